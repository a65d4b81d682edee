//! Who waits for whom, who holds until when, and what stops the sidecars: the
//! step files each wrapper is given, as few as the protocol allows.
//!
//! The one fact this rests on: a step's marker (`out` or `out.err`) implies
//! that the steps it waits for have ended too when it waits for only one of
//! them, or waits with `--always` (it ran, or skipped, only once all were
//! done). A step that waits for several without `--always` may be skipped as
//! soon as one fails, while the others still run. So "the work is done" is
//! "every step that no other step's end implies has ended": the *finish set*.
//! For a list that is its last step; with finally steps, the last finally
//! steps; for a diamond `a -> (b, c) -> d`, the steps `b`, `c` and `d`.
//! When that is more than one step and a wrapper must wait for the end (a
//! step that holds, a sidecar to stop), one more container, the *join*, waits
//! for them all and marks the end with one marker of its own: every wrapper
//! then names one path, and the rendering stays linear in the steps.

use crate::dag::Dag;

/// A marker that says the work is done: a step's, or the join container's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Step(usize),
    Join,
}

/// The end of the work, as the wrappers see it.
#[derive(Debug, PartialEq, Eq)]
pub struct Wiring {
    /// For each step: the steps it waits for (`--wait`).
    pub waits: Vec<Vec<usize>>,
    /// For each step: whether it runs whatever happened to those (`--always`).
    pub always: Vec<bool>,
    /// The steps whose ends mean that the work is done. With `join`, the join
    /// container waits for these.
    pub finish: Vec<usize>,
    /// A container that marks the end (its own `out`): needed when `finish`
    /// has several steps and something waits for the end.
    pub join: bool,
    /// For each step: what it holds until (`--hold-until`).
    pub hold: Vec<Vec<End>>,
    /// What stops the sidecars (`--stop-when`).
    pub stop: Option<End>,
    /// The steps that wait for the sidecars' ready targets: those that wait for no step.
    pub ready_waiters: Vec<usize>,
}

/// `hold`: finished steps hold until the work is done; `stop_sidecars`: there
/// are sidecars to stop with `--stop-when`.
pub fn wire(dag: &Dag, hold: bool, stop_sidecars: bool) -> Wiring {
    let n = dag.len();
    let main = dag.main;
    let mut waits: Vec<Vec<usize>> = dag.deps.iter().map(|ds| ds.iter().map(|d| d.on).collect()).collect();
    let mut always = vec![false; n];
    let main_finish = finish_set(0..main, &waits, &always);
    for f in main..n {
        always[f] = true;
        // a finally step runs after every step: after the main steps' end, or
        // after a finally step (which came after it)
        if !waits[f].iter().any(|&j| j >= main) {
            for &m in &main_finish {
                if !waits[f].contains(&m) {
                    waits[f].push(m);
                }
            }
        }
    }
    let finish = finish_set(0..n, &waits, &always);
    let join = finish.len() > 1 && (stop_sidecars || hold);
    let end: Vec<End> = if join { vec![End::Join] } else { finish.iter().map(|&f| End::Step(f)).collect() };
    let hold = (0..n)
        .map(|i| if hold { end.iter().copied().filter(|&e| e != End::Step(i)).collect() } else { Vec::new() })
        .collect();
    let stop = if stop_sidecars { end.first().copied() } else { None };
    let ready_waiters = (0..main).filter(|&i| waits[i].is_empty()).collect();
    Wiring { waits, always, finish, join, hold, stop, ready_waiters }
}

/// The steps of `nodes` whose end no other step's end implies.
fn finish_set(nodes: std::ops::Range<usize>, waits: &[Vec<usize>], always: &[bool]) -> Vec<usize> {
    let mut implied = vec![false; waits.len()];
    for x in nodes.clone() {
        if always[x] || waits[x].len() == 1 {
            for &y in &waits[x] {
                implied[y] = true;
            }
        }
    }
    nodes.filter(|&i| !implied[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::Dep;

    fn dag(main: usize, deps: &[&[usize]]) -> Dag {
        Dag {
            main,
            names: (0..deps.len()).map(|i| format!("s{i}")).collect(),
            lines: (0..deps.len()).collect(),
            deps: deps
                .iter()
                .map(|ds| ds.iter().map(|&on| Dep { on, line: 0, implicit: false }).collect())
                .collect(),
        }
    }

    #[test]
    fn a_list_ends_with_its_last_step() {
        let w = wire(&dag(3, &[&[], &[0], &[1]]), true, true);
        assert_eq!(w.finish, [2]);
        assert!(!w.join);
        assert_eq!(w.hold, [vec![End::Step(2)], vec![End::Step(2)], vec![]]);
        assert_eq!(w.stop, Some(End::Step(2)));
        assert_eq!(w.ready_waiters, [0]);
    }

    #[test]
    fn a_diamond_ends_with_every_step_a_skip_may_leave_running() {
        // a -> (b, c) -> d: d is skipped as soon as b fails, while c still runs
        let w = wire(&dag(4, &[&[], &[0], &[0], &[1, 2]]), false, false);
        assert_eq!(w.finish, [1, 2, 3]);
        assert!(!w.join, "nothing waits for the end");
        assert_eq!(w.hold, vec![Vec::<End>::new(); 4]);
        assert_eq!(w.stop, None);
        // holding steps, or a sidecar to stop: one path must say "done", the join's
        for (hold, stop) in [(true, false), (false, true), (true, true)] {
            let w = wire(&dag(4, &[&[], &[0], &[0], &[1, 2]]), hold, stop);
            assert!(w.join);
            assert_eq!(w.hold, vec![if hold { vec![End::Join] } else { vec![] }; 4]);
            assert_eq!(w.stop, stop.then_some(End::Join));
        }
    }

    #[test]
    fn finally_steps_wait_for_the_end_of_the_main_steps_then_end_the_work() {
        // a -> (b, c) -> d, then report (finally), then notify (finally, after report)
        let w = wire(&dag(4, &[&[], &[0], &[0], &[1, 2], &[], &[4]]), false, true);
        assert_eq!(w.waits[4], [1, 2, 3]);
        assert_eq!(w.waits[5], [4]);
        assert_eq!(w.always, [false, false, false, false, true, true]);
        assert_eq!(w.finish, [5]);
        assert!(!w.join);
        assert_eq!(w.hold, vec![Vec::<End>::new(); 6]);
        assert_eq!(w.stop, Some(End::Step(5)));
        // a list and one finally step: the finally step ends the work
        let w = wire(&dag(2, &[&[], &[0], &[]]), true, false);
        assert_eq!(w.waits[2], [1]);
        assert_eq!(w.finish, [2]);
        assert_eq!(w.hold[0], [End::Step(2)]);
    }

    #[test]
    fn independent_steps_hold_on_one_marker() {
        // n steps side by side: each holds until the join, not until the n - 1 others
        let w = wire(&dag(3, &[&[], &[], &[]]), true, false);
        assert_eq!(w.finish, [0, 1, 2]);
        assert!(w.join);
        assert_eq!(w.hold, vec![vec![End::Join]; 3]);
        assert_eq!(w.ready_waiters, [0, 1, 2]);
    }
}
