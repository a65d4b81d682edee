//! How large a rendered object may be (docs/steps.md), measured as
//! compact JSON, the form `kubectl` and the API server keep it in.
//!
//! - Above 256 KiB, client-side `kubectl apply` cannot keep its
//!   `last-applied-configuration` annotation (all of an object's annotations
//!   share 256 KiB): `render` warns and names `kubectl apply --server-side`.
//! - Above 1.5 MiB, etcd's default request limit, the API server cannot store
//!   it: `render` refuses it, a problem of the file (status 1).

/// Client-side apply's limit: the annotations' total size.
pub const APPLY_LIMIT: usize = 256 * 1024;
/// etcd's default `--max-request-bytes`.
pub const STORE_LIMIT: usize = 1536 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Fits,
    /// The warning's text.
    TooLargeToApply(String),
    /// The problem's text.
    TooLargeToStore(String),
}

/// What `bytes` of compact JSON mean for the `kind` (Pod, Job) rendered.
pub fn judge(bytes: usize, kind: &str) -> Verdict {
    if bytes > STORE_LIMIT {
        Verdict::TooLargeToStore(format!(
            "the {kind} is {} of JSON ({bytes} bytes), more than the 1.5 MiB the API server can store (etcd's limit): split the steps into several pods",
            human(bytes)
        ))
    } else if bytes > APPLY_LIMIT {
        Verdict::TooLargeToApply(format!(
            "the {kind} is {} of JSON ({bytes} bytes), more than the 256 KiB that client-side kubectl apply can keep in its last-applied annotation: apply it with kubectl apply --server-side (or kubectl create)",
            human(bytes)
        ))
    } else {
        Verdict::Fits
    }
}

/// `300 KiB`, `1.6 MiB`.
fn human(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits() {
        assert_eq!(judge(APPLY_LIMIT, "Pod"), Verdict::Fits);
        assert_eq!(
            judge(APPLY_LIMIT + 1, "Pod"),
            Verdict::TooLargeToApply("the Pod is 257 KiB of JSON (262145 bytes), more than the 256 KiB that client-side kubectl apply can keep in its last-applied annotation: apply it with kubectl apply --server-side (or kubectl create)".to_string())
        );
        assert!(matches!(judge(STORE_LIMIT, "Job"), Verdict::TooLargeToApply(_)));
        assert_eq!(
            judge(STORE_LIMIT + 1, "Job"),
            Verdict::TooLargeToStore("the Job is 1.5 MiB of JSON (1572865 bytes), more than the 1.5 MiB the API server can store (etcd's limit): split the steps into several pods".to_string())
        );
    }
}
