//! The graph of the steps and finally steps: names resolved, `needs` and the
//! list order turned into edges, cycles found and named.

use crate::stepsfile::{File, Problems, Step, COPY_TOOLS, END};
use std::collections::{HashMap, VecDeque};

/// A dependency: the step depended on, and where the file says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dep {
    pub on: usize,
    pub line: usize,
    /// From the list order (no `needs`), not written.
    pub implicit: bool,
}

/// Node `i` is `file.steps[i]` for `i < main`, then `file.finally[i - main]`.
#[derive(Debug)]
pub struct Dag {
    pub main: usize,
    pub names: Vec<String>,
    pub lines: Vec<usize>,
    pub deps: Vec<Vec<Dep>>,
}

impl Dag {
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_finally(&self, i: usize) -> bool {
        i >= self.main
    }

    /// Every `(from, to)` where `to` comes after `from`: the edges of the file,
    /// and every finally step with no finally step before it after every main
    /// step that nothing depends on.
    pub fn order_edges(&self) -> Vec<(usize, usize)> {
        let mut edges: Vec<(usize, usize)> =
            (0..self.len()).flat_map(|i| self.deps[i].iter().map(move |d| (d.on, i))).collect();
        let sinks: Vec<usize> = (0..self.main).filter(|&m| !edges.iter().any(|&(a, _)| a == m)).collect();
        for f in self.main..self.len() {
            if !self.deps[f].iter().any(|d| self.is_finally(d.on)) {
                edges.extend(sinks.iter().map(|&m| (m, f)));
            }
        }
        edges
    }
}

/// Builds the graph; names and `needs` problems go to `p` (a duplicate name is
/// reported once and left out, an unknown need is dropped, so that one problem
/// gives one line). `taken` are container names that are not steps' (init
/// containers of the pod), with their lines.
pub fn build(f: &File, taken: &[(String, usize)], p: &mut Problems) -> Dag {
    let all: Vec<&Step> = f.steps.iter().chain(&f.finally).chain(&f.sidecars).collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (name, line) in taken {
        first_line.entry(name.as_str()).or_insert(*line);
    }
    let mut ok = vec![true; all.len()];
    // in the order of the file, so that the duplicate told is the second one
    let mut by_line: Vec<usize> = (0..all.len()).collect();
    by_line.sort_by_key(|&i| all[i].name_line);
    for i in by_line {
        let s = all[i];
        if s.name.is_empty() {
            ok[i] = false;
            continue;
        }
        if s.name == COPY_TOOLS || s.name == END {
            p.add(s.name_line, format!("name '{}' is taken by one of the tools' own containers", s.name));
            ok[i] = false;
        } else if let Some(first) = first_line.get(s.name.as_str()) {
            p.add(s.name_line, format!("duplicate name '{}' (first at line {first})", s.name));
            ok[i] = false;
        } else {
            first_line.insert(&s.name, s.name_line);
            index.insert(&s.name, i);
        }
    }
    let main = f.steps.len();
    let n = main + f.finally.len();
    let mut deps = vec![Vec::new(); n];
    for i in 0..n {
        let s = all[i];
        let first_of_list = i == 0 || i == main;
        if !ok[i] {
            // a left-out duplicate takes part in nothing
            continue;
        }
        match &s.needs {
            None if !first_of_list => deps[i].push(Dep { on: i - 1, line: s.name_line, implicit: true }),
            None => {}
            Some(list) => {
                for (need, line) in list {
                    match index.get(need.as_str()).copied() {
                        None => p.add(*line, format!("'{}' needs '{need}': no such step", s.name)),
                        Some(j) if j >= n => p.add(
                            *line,
                            format!(
                                "'{}' needs '{need}', a sidecar: wait for it with the sidecar's ready:",
                                s.name
                            ),
                        ),
                        Some(j) if j >= main && i < main => p.add(
                            *line,
                            format!(
                                "'{}' needs '{need}', a finally step: a step cannot wait for finally steps",
                                s.name
                            ),
                        ),
                        Some(j) => deps[i].push(Dep { on: j, line: *line, implicit: false }),
                    }
                }
            }
        }
    }
    let dag = Dag {
        main,
        names: all[..n].iter().map(|s| s.name.clone()).collect(),
        lines: all[..n].iter().map(|s| s.line).collect(),
        deps,
    };
    cycles(&dag, p);
    dag
}

/// One line for each strongly connected component that is a cycle.
fn cycles(dag: &Dag, p: &mut Problems) {
    for comp in components(dag) {
        let cyclic = comp.len() > 1 || dag.deps[comp[0]].iter().any(|d| d.on == comp[0]);
        if !cyclic {
            continue;
        }
        let start = comp.iter().copied().min_by_key(|&i| (dag.lines[i], i)).unwrap_or(comp[0]);
        let cycle = shortest_cycle(dag, start, &comp);
        let names: Vec<&str> = cycle.iter().map(|&i| dag.names[i].as_str()).collect();
        // the cycle closes with `start` needing the last step on it
        let last = cycle.get(cycle.len().wrapping_sub(2)).copied().unwrap_or(start);
        let closing = dag.deps[start].iter().find(|d| d.on == last);
        let line = closing.map_or(dag.lines[start], |d| d.line);
        let mut what = format!("cycle: {}", names.join(" -> "));
        let implicit = cycle
            .windows(2)
            .find_map(|w| dag.deps[w[1]].iter().find(|d| d.on == w[0] && d.implicit).map(|_| w));
        if let Some(w) = implicit {
            what += &format!(
                " ({} has no needs: it runs after {}, the step before it)",
                dag.names[w[1]], dag.names[w[0]]
            );
        }
        p.add(line, what);
    }
}

/// `start -> ... -> start` in running order (each step runs before the next),
/// the shortest within the component.
fn shortest_cycle(dag: &Dag, start: usize, comp: &[usize]) -> Vec<usize> {
    let n = dag.len();
    let mut dependents = vec![Vec::new(); n];
    for &i in comp {
        for d in &dag.deps[i] {
            if comp.contains(&d.on) {
                dependents[d.on].push(i);
            }
        }
    }
    let mut prev = vec![usize::MAX; n];
    let mut queue = VecDeque::from([start]);
    let mut seen = vec![false; n];
    seen[start] = true;
    while let Some(x) = queue.pop_front() {
        for &y in &dependents[x] {
            if y == start {
                let mut cycle = vec![x];
                let mut at = x;
                while at != start {
                    at = prev[at];
                    cycle.push(at);
                }
                cycle.reverse();
                cycle.push(start);
                return cycle;
            }
            if !seen[y] {
                seen[y] = true;
                prev[y] = x;
                queue.push_back(y);
            }
        }
    }
    vec![start, start]
}

/// Strongly connected components (Kosaraju, iterative), each in any order.
fn components(dag: &Dag) -> Vec<Vec<usize>> {
    let n = dag.len();
    // pass 1: finishing order along "needs" edges
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for s in 0..n {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        let mut stack = vec![(s, 0usize)];
        while let Some(&mut (x, ref mut k)) = stack.last_mut() {
            if let Some(d) = dag.deps[x].get(*k) {
                *k += 1;
                if !seen[d.on] {
                    seen[d.on] = true;
                    stack.push((d.on, 0));
                }
            } else {
                order.push(x);
                stack.pop();
            }
        }
    }
    // pass 2: along reversed edges, in reverse finishing order
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in dag.deps.iter().enumerate() {
        for d in ds {
            dependents[d.on].push(i);
        }
    }
    let mut comp_of = vec![usize::MAX; n];
    let mut comps = Vec::new();
    for &s in order.iter().rev() {
        if comp_of[s] != usize::MAX {
            continue;
        }
        let c = comps.len();
        let mut members = vec![s];
        comp_of[s] = c;
        let mut stack = vec![s];
        while let Some(x) = stack.pop() {
            for &y in &dependents[x] {
                if comp_of[y] == usize::MAX {
                    comp_of[y] = c;
                    members.push(y);
                    stack.push(y);
                }
            }
        }
        comps.push(members);
    }
    comps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;
    use crate::stepsfile::read;

    fn build_text(text: &str) -> (Dag, Vec<(usize, String)>) {
        let mut p = Problems::default();
        let f = read(&parse(text).unwrap(), &mut p);
        let dag = build(&f, &[], &mut p);
        (dag, p.sorted().into_iter().map(|x| (x.line, x.what)).collect())
    }

    #[test]
    fn list_order_and_needs_make_the_edges() {
        let (dag, p) = build_text(
            "name: x\nimage: i\nsteps:\n  - {name: a, run: a}\n  - {name: b, run: b}\n  - {name: c, needs: [], run: c}\n  - {name: d, needs: [a, c], run: d}\nfinally:\n  - {name: f, run: f}\n  - {name: g, run: g}\n",
        );
        assert!(p.is_empty(), "{p:?}");
        let deps: Vec<Vec<(usize, bool)>> =
            dag.deps.iter().map(|d| d.iter().map(|x| (x.on, x.implicit)).collect()).collect();
        assert_eq!(
            deps,
            [vec![], vec![(0, true)], vec![], vec![(0, false), (2, false)], vec![], vec![(4, true)]]
        );
        // the finally step that follows no finally step comes after the main steps' sinks
        let mut e = dag.order_edges();
        e.sort();
        assert_eq!(e, [(0, 1), (0, 3), (1, 4), (2, 3), (3, 4), (4, 5)]);
    }

    #[test]
    fn cycles_one_line_each() {
        let (_, p) = build_text("name: x\nimage: i\nsteps:\n  - {name: a, needs: [b], run: a}\n  - {name: b, needs: [a], run: b}\n");
        assert_eq!(p, [(4, "cycle: a -> b -> a".to_string())]);
        // a longer one: the shortest cycle through the first step on it
        let (_, p) = build_text(
            "name: x\nimage: i\nsteps:\n  - {name: a, needs: [d], run: a}\n  - {name: b, needs: [a], run: b}\n  - {name: c, needs: [b], run: c}\n  - {name: d, needs: [c, b], run: d}\n",
        );
        assert_eq!(p, [(4, "cycle: a -> b -> d -> a".to_string())]);
    }
}
