//! What the cluster runs (docs/steps.md, "Options for today's
//! clusters"): the renderings that need a recent Kubernetes, each chosen on
//! its own or implied by the cluster's version.
//!
//! | option (file key)                     | implied by `--kubernetes X.Y` from |
//! |---------------------------------------|------------------------------------|
//! | `--native-sidecars` (`nativeSidecars`) | 1.29                              |
//! | `--pod-resources` (`podResources`)     | 1.34                              |
//! | `--tools-from image` (`toolsFrom`)     | 1.36                              |
//!
//! Each option is decided on its own: an explicit setting wins over a
//! version's default, and the command line wins over the file. So
//! `--tools-from copy` wins over `kubernetes: "1.37"` and over `toolsFrom:
//! image`, and `toolsFrom: copy` in the file wins over `--kubernetes 1.37`.
//! Without an explicit setting, the version (`--kubernetes`, else the file's
//! `kubernetes:`) turns on what that version runs by default; without a
//! version, the rendering is the one every version from [`OLDEST`] runs.
//!
//! An option set explicitly on for a stated version that does not run it by
//! default is rendered as asked, with a warning that names the feature gate.

use std::fmt;

/// A Kubernetes version, as far as `steps` cares: major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

const fn v1(minor: u32) -> Version {
    Version { major: 1, minor }
}

/// The oldest version `steps` renders for: Pod Security admission (whose
/// "restricted" profile the tools' containers meet) is GA there, and it is
/// the oldest API schema the tests validate against.
pub const OLDEST: Version = v1(25);

/// Where the steps find the tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolsFrom {
    /// An init container copies them into an emptyDir (every version).
    Copy,
    /// The tools' image is mounted as an image volume: no init container.
    Image,
}

/// Where a choice was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    /// The file, at this line.
    File(usize),
}

/// A choice and where it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Given<T> {
    pub value: T,
    pub origin: Origin,
}

/// The choices made in one place (the command line, or the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Choices {
    pub kubernetes: Option<Given<Version>>,
    pub native_sidecars: Option<Given<bool>>,
    pub pod_resources: Option<Given<bool>>,
    pub tools_from: Option<Given<ToolsFrom>>,
}

/// What the rendering does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub native_sidecars: bool,
    pub pod_resources: bool,
    pub tools_from: ToolsFrom,
}

/// An option that needs a recent Kubernetes.
struct Feature {
    /// Its spelling on the command line and in the file.
    flag: &'static str,
    key: &'static str,
    /// What Kubernetes calls it, and its feature gate.
    what: &'static str,
    gate: &'static str,
    /// The first version that runs it without a feature gate turned on.
    on_by_default: Version,
    /// The first version `--kubernetes` turns it on for.
    implied_from: Version,
}

const NATIVE_SIDECARS: Feature = Feature {
    flag: "--native-sidecars",
    key: "nativeSidecars",
    what: "sidecar containers",
    gate: "SidecarContainers",
    on_by_default: v1(29),
    implied_from: v1(29),
};
const POD_RESOURCES: Feature = Feature {
    flag: "--pod-resources",
    key: "podResources",
    what: "pod-level resources",
    gate: "PodLevelResources",
    on_by_default: v1(34),
    implied_from: v1(34),
};
/// On by default from 1.35 (beta); `--kubernetes` implies it from 1.36, where it is GA.
const TOOLS_FROM_IMAGE: Feature = Feature {
    flag: "--tools-from image",
    key: "toolsFrom",
    what: "image volumes",
    gate: "ImageVolume",
    on_by_default: v1(35),
    implied_from: v1(36),
};

/// `X.Y`, `X.Y.Z`, with or without a leading `v` (as `kubectl version`
/// prints it); at least [`OLDEST`]. `Err` says why not.
pub fn parse_version(text: &str) -> Result<Version, String> {
    let bad = || format!("'{text}' is not a Kubernetes version (like 1.36)");
    let digits = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = digits.split('.').collect();
    if !(2..=3).contains(&parts.len())
        || parts.iter().any(|p| p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let number = |p: &str| p.parse::<u32>().map_err(|_| bad());
    let v = Version { major: number(parts[0])?, minor: number(parts[1])? };
    if v < OLDEST {
        return Err(format!("{v} is older than {OLDEST}, the oldest Kubernetes steps renders for"));
    }
    Ok(v)
}

/// The earlier of two choices wins: the command line's, then the file's.
fn first<T: Copy>(cli: Option<Given<T>>, file: Option<Given<T>>) -> Option<Given<T>> {
    cli.or(file)
}

/// The version stated, if any (the command line's, else the file's).
pub fn version(cli: &Choices, file: &Choices) -> Option<Given<Version>> {
    first(cli.kubernetes, file.kubernetes)
}

/// What the rendering does, each option decided on its own.
pub fn resolve(cli: &Choices, file: &Choices) -> Settings {
    let version = version(cli, file).map(|g| g.value);
    let implied = |f: &Feature| version.is_some_and(|v| v >= f.implied_from);
    let native_sidecars = first(cli.native_sidecars, file.native_sidecars)
        .map_or_else(|| implied(&NATIVE_SIDECARS), |g| g.value);
    let pod_resources =
        first(cli.pod_resources, file.pod_resources).map_or_else(|| implied(&POD_RESOURCES), |g| g.value);
    let tools_from = first(cli.tools_from, file.tools_from).map_or_else(
        || if implied(&TOOLS_FROM_IMAGE) { ToolsFrom::Image } else { ToolsFrom::Copy },
        |g| g.value,
    );
    Settings { native_sidecars, pod_resources, tools_from }
}

/// Options set on explicitly for a stated version that does not run them by
/// default: where each was set (its line in the file, if there) and the warning.
pub fn warnings(cli: &Choices, file: &Choices) -> Vec<(Option<usize>, String)> {
    let Some(version) = version(cli, file) else { return Vec::new() };
    let v = version.value;
    let explicit = [
        (
            first(cli.native_sidecars, file.native_sidecars).filter(|g| g.value).map(|g| g.origin),
            &NATIVE_SIDECARS,
        ),
        (first(cli.pod_resources, file.pod_resources).filter(|g| g.value).map(|g| g.origin), &POD_RESOURCES),
        (
            first(cli.tools_from, file.tools_from).filter(|g| g.value == ToolsFrom::Image).map(|g| g.origin),
            &TOOLS_FROM_IMAGE,
        ),
    ];
    explicit
        .into_iter()
        .filter_map(|(origin, f)| Some((origin?, f)))
        .filter(|(_, f)| v < f.on_by_default)
        .map(|(origin, f)| {
            let (line, name) = match origin {
                Origin::CommandLine => (None, f.flag),
                Origin::File(line) => (Some(line), f.key),
            };
            (
                line,
                format!(
                    "{name}: Kubernetes {v} runs {} only with the {} feature gate on (on by default from {})",
                    f.what, f.gate, f.on_by_default
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> Origin {
        Origin::CommandLine
    }

    fn given<T>(value: T, origin: Origin) -> Option<Given<T>> {
        Some(Given { value, origin })
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.36"), Ok(v1(36)));
        assert_eq!(parse_version("v1.29.3"), Ok(v1(29)));
        assert_eq!(parse_version("1.25"), Ok(v1(25)));
        assert_eq!(parse_version("2.0"), Ok(Version { major: 2, minor: 0 }));
        for bad in ["", "1", "1.", ".36", "1.36.2.1", "1.x", "1.36-rc", "one.two", "v", "1.99999"] {
            assert_eq!(parse_version(bad), Err(format!("'{bad}' is not a Kubernetes version (like 1.36)")));
        }
        assert_eq!(
            parse_version("1.24"),
            Err("1.24 is older than 1.25, the oldest Kubernetes steps renders for".to_string())
        );
        assert_eq!(
            parse_version("0.99"),
            Err("0.99 is older than 1.25, the oldest Kubernetes steps renders for".to_string())
        );
    }

    #[test]
    fn a_version_turns_on_what_it_runs_by_default() {
        let at = |minor| {
            let c = Choices { kubernetes: given(v1(minor), cli()), ..Choices::default() };
            let s = resolve(&c, &Choices::default());
            (s.native_sidecars, s.pod_resources, s.tools_from)
        };
        assert_eq!(at(25), (false, false, ToolsFrom::Copy));
        assert_eq!(at(28), (false, false, ToolsFrom::Copy));
        assert_eq!(at(29), (true, false, ToolsFrom::Copy));
        assert_eq!(at(34), (true, true, ToolsFrom::Copy));
        assert_eq!(at(35), (true, true, ToolsFrom::Copy));
        assert_eq!(at(36), (true, true, ToolsFrom::Image));
        assert_eq!(at(99), (true, true, ToolsFrom::Image));
        let none = resolve(&Choices::default(), &Choices::default());
        assert_eq!(
            none,
            Settings { native_sidecars: false, pod_resources: false, tools_from: ToolsFrom::Copy }
        );
    }

    #[test]
    fn explicit_wins_over_a_version_and_the_command_line_over_the_file() {
        let file = Choices {
            kubernetes: given(v1(37), Origin::File(2)),
            tools_from: given(ToolsFrom::Copy, Origin::File(3)),
            ..Choices::default()
        };
        // the file's explicit toolsFrom: copy wins over its own version
        let s = resolve(&Choices::default(), &file);
        assert_eq!((s.native_sidecars, s.pod_resources, s.tools_from), (true, true, ToolsFrom::Copy));
        // and over a version on the command line
        let c = Choices { kubernetes: given(v1(40), cli()), ..Choices::default() };
        assert_eq!(resolve(&c, &file).tools_from, ToolsFrom::Copy);
        // the command line's explicit setting wins over the file's
        let c = Choices {
            tools_from: given(ToolsFrom::Image, cli()),
            pod_resources: given(false, cli()),
            ..Choices::default()
        };
        let s = resolve(&c, &file);
        assert_eq!((s.native_sidecars, s.pod_resources, s.tools_from), (true, false, ToolsFrom::Image));
        // the command line's version wins over the file's
        let c = Choices { kubernetes: given(v1(30), cli()), ..Choices::default() };
        let s = resolve(&c, &Choices { tools_from: None, ..file });
        assert_eq!((s.native_sidecars, s.pod_resources, s.tools_from), (true, false, ToolsFrom::Copy));
    }

    #[test]
    fn explicit_options_a_stated_version_does_not_run_by_default_warn() {
        let file = Choices {
            kubernetes: given(v1(33), Origin::File(2)),
            pod_resources: given(true, Origin::File(4)),
            native_sidecars: given(true, Origin::File(5)),
            ..Choices::default()
        };
        let c = Choices { tools_from: given(ToolsFrom::Image, cli()), ..Choices::default() };
        assert_eq!(
            warnings(&c, &file),
            [
                (
                    Some(4),
                    "podResources: Kubernetes 1.33 runs pod-level resources only with the PodLevelResources feature gate on (on by default from 1.34)".to_string()
                ),
                (
                    None,
                    "--tools-from image: Kubernetes 1.33 runs image volumes only with the ImageVolume feature gate on (on by default from 1.35)".to_string()
                ),
            ]
        );
        // no version stated, or one that runs them: no warning
        assert_eq!(warnings(&c, &Choices { kubernetes: None, ..file }), []);
        assert_eq!(warnings(&c, &Choices { kubernetes: given(v1(35), Origin::File(2)), ..file }), []);
        // an option set off never warns
        let off = Choices { tools_from: given(ToolsFrom::Copy, cli()), ..Choices::default() };
        assert_eq!(warnings(&off, &Choices { kubernetes: given(v1(25), cli()), ..Choices::default() }), []);
    }
}
