//! The folder loop's decisions, as a state machine (after Syncthing's
//! `folder`): state plus pure transitions over injected time and jitter,
//! so every rule below is unit-tested without a runtime or a clock.
//!
//! Rules:
//! - One cycle at a time; triggers that arrive during a cycle (a save, "sync
//!   now", a resume) coalesce into one more right after it.
//! - Polling adapts: every few seconds while the user is active or just
//!   after a push or pull, backing off to the idle interval (jittered).
//! - Failures back off by doubling with jitter, up to five minutes; a
//!   problem only the user can fix stops automatic cycles until something
//!   changes (a save, "sync now", resume, a confirmation, new settings).
//! - A folder another process owns is looked at again every little while.
//! - Paused means no cycle, whatever arrives; shutdown waits for a running
//!   cycle to end.

use std::time::Duration;

use tokio::time::Instant;

/// How the loop's times are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Poll interval while idle (the user's preference).
    pub idle_poll: Duration,
    /// Poll interval while active.
    pub active_poll: Duration,
    /// Fast polling lasts this long after activity.
    pub active_window: Duration,
    /// Longest wait between retries.
    pub max_backoff: Duration,
    /// How often a folder another process owns is looked at again.
    pub owner_retry: Duration,
    /// A burst of watcher messages is gathered this long into one cycle.
    pub coalesce: Duration,
}

impl Timing {
    /// The defaults, with the user's idle poll interval.
    pub fn with_idle_poll(idle_poll: Duration) -> Timing {
        Timing {
            idle_poll: idle_poll.max(Duration::from_secs(5)),
            active_poll: Duration::from_secs(3),
            active_window: Duration::from_secs(120),
            max_backoff: Duration::from_secs(300),
            owner_retry: Duration::from_secs(15),
            coalesce: Duration::from_millis(30),
        }
    }
}

/// What the loop is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Files changed in the folder (from the watcher).
    Changed,
    /// The user asked for a cycle now.
    SyncNow,
    /// The user paused this folder: no cycles until resumed.
    Pause,
    /// The user resumed this folder.
    Resume,
    /// The user paused all syncing (a folder paused on its own stays so
    /// when all syncing resumes).
    PauseAll,
    /// The user resumed all syncing.
    ResumeAll,
    /// The user confirmed a large deletion.
    ConfirmDeletion,
    /// The settings changed (new timing).
    Reconfigured(Timing),
    /// Stop the loop.
    Shutdown,
}

/// How a cycle ended, as far as the loop's timing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It went through (maybe with notes or conflicts). `worked`: it sent
    /// or received something; `again_in`: files still being written want
    /// another look then.
    Done {
        /// Something was sent or received.
        worked: bool,
        /// When to look again at files still being written.
        again_in: Option<Duration>,
    },
    /// A passing problem (network, server busy, a lock): back off.
    RetryLater,
    /// Another process owns the folder for now.
    NotOwner,
    /// Only the user can fix it: no more automatic cycles until they act.
    NeedsUser,
}

/// What the driver should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run one cycle; `visible`: the user caused it (show "syncing").
    Cycle {
        /// Show the folder as syncing while it runs.
        visible: bool,
    },
    /// Record the user's approval of the pending large deletion.
    ApproveDeletion,
    /// Show the folder as paused by the user.
    ShowPaused,
    /// Restart the watcher (the quiet period changed).
    Rewatch,
    /// The loop is over.
    Stop,
}

/// One folder loop's state.
#[derive(Debug, Clone)]
pub struct Machine {
    timing: Timing,
    /// The user paused this folder.
    paused: bool,
    /// The user paused all syncing.
    all_paused: bool,
    /// When the next cycle is due (none: only an event starts one).
    due: Option<Instant>,
    active_until: Instant,
    failures: u32,
    waiting_for_user: bool,
    /// The next cycle was caused by the user (shown as syncing).
    visible: bool,
    /// A cycle is running.
    running: bool,
    /// Something asked for a cycle while one ran: run another after it.
    again: bool,
    stopping: bool,
}

impl Machine {
    /// A loop starting at `now`; a first cycle is due at once unless paused.
    pub fn new(now: Instant, timing: Timing, paused: bool) -> Machine {
        Machine {
            timing,
            paused,
            all_paused: false,
            due: Some(now),
            active_until: now + timing.active_window,
            failures: 0,
            waiting_for_user: false,
            visible: true,
            running: false,
            again: false,
            stopping: false,
        }
    }

    /// Whether the folder is paused (on its own or with all syncing).
    pub fn paused(&self) -> bool {
        self.paused || self.all_paused
    }

    /// Retries since the last cycle that went through.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the driver must wake up (none: wait for an event only).
    pub fn wake_at(&self) -> Option<Instant> {
        if self.paused() || self.running || self.stopping {
            return None;
        }
        self.due
    }

    /// Asks for a cycle at `at` (or sooner, if one is due sooner); during
    /// a cycle, for one more after it.
    fn want(&mut self, at: Instant) {
        if self.running {
            self.again = true;
        }
        self.due = Some(self.due.map_or(at, |d| d.min(at)));
    }

    /// An event arrives at `now`.
    pub fn on(&mut self, now: Instant, event: Event) -> Vec<Action> {
        match event {
            Event::Shutdown => {
                self.stopping = true;
                if self.running {
                    // The running cycle ends first.
                    Vec::new()
                } else {
                    vec![Action::Stop]
                }
            }
            Event::Pause | Event::PauseAll => {
                let was = self.paused();
                match event {
                    Event::Pause => self.paused = true,
                    _ => self.all_paused = true,
                }
                if was {
                    Vec::new()
                } else {
                    vec![Action::ShowPaused]
                }
            }
            Event::Resume | Event::ResumeAll => {
                let was = match event {
                    Event::Resume => std::mem::replace(&mut self.paused, false),
                    _ => std::mem::replace(&mut self.all_paused, false),
                };
                if was || self.waiting_for_user {
                    self.waiting_for_user = false;
                    self.visible = true;
                    self.want(now);
                }
                Vec::new()
            }
            Event::ConfirmDeletion => {
                self.waiting_for_user = false;
                self.visible = true;
                self.want(now);
                vec![Action::ApproveDeletion]
            }
            Event::Changed => {
                self.active_until = now + self.timing.active_window;
                self.visible = true;
                self.waiting_for_user = false;
                // The watcher already waited for the quiet period; a short
                // pause gathers one burst's messages into one cycle.
                self.want(now + self.timing.coalesce);
                Vec::new()
            }
            Event::SyncNow => {
                self.visible = true;
                self.waiting_for_user = false;
                self.want(now);
                Vec::new()
            }
            Event::Reconfigured(timing) => {
                let rewatch = timing != self.timing;
                self.timing = timing;
                self.waiting_for_user = false;
                self.want(now);
                if rewatch {
                    vec![Action::Rewatch]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// The wake-up time came: start a cycle if one is due.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Action> {
        match self.wake_at() {
            Some(at) if at <= now => {
                self.due = None;
                self.running = true;
                self.again = false;
                let visible = std::mem::take(&mut self.visible) || self.failures > 0;
                vec![Action::Cycle { visible }]
            }
            _ => Vec::new(),
        }
    }

    /// The running cycle ended at `now`. `jitter` is a factor near 1 (0.9
    /// to 1.1) that spreads the polls of many folders and clients.
    pub fn on_cycle_end(&mut self, now: Instant, ended: Ended, jitter: f64) -> Vec<Action> {
        self.running = false;
        let poll = |m: &Machine| {
            let every = if now < m.active_until {
                m.timing.active_poll
            } else {
                m.timing.idle_poll
            };
            now + every.mul_f64(jitter)
        };
        let mut next = match ended {
            Ended::Done { worked, again_in } => {
                self.failures = 0;
                if worked {
                    self.active_until = now + self.timing.active_window;
                }
                let at = poll(self);
                Some(match again_in {
                    Some(d) => at.min(now + d + Duration::from_millis(50)),
                    None => at,
                })
            }
            Ended::RetryLater => {
                self.failures += 1;
                let base = Duration::from_secs(2u64.saturating_pow(self.failures.min(9)));
                Some(now + base.min(self.timing.max_backoff).mul_f64(jitter))
            }
            Ended::NotOwner => Some(now + self.timing.owner_retry),
            Ended::NeedsUser => {
                self.waiting_for_user = true;
                None
            }
        };
        if std::mem::take(&mut self.again) {
            // Something asked for a cycle while this one ran.
            next = Some(self.due.unwrap_or(now).min(next.unwrap_or(now)));
            self.waiting_for_user = false;
        }
        self.due = next;
        if self.stopping {
            return vec![Action::Stop];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing::with_idle_poll(Duration::from_secs(60))
    }

    fn start() -> (Machine, Instant) {
        let t0 = Instant::now();
        (Machine::new(t0, timing(), false), t0)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Runs the first cycle to its end with `ended`.
    fn first_cycle(m: &mut Machine, t: Instant, ended: Ended) {
        assert_eq!(m.on_timer(t), vec![Action::Cycle { visible: true }]);
        m.on_cycle_end(t, ended, 1.0);
    }

    const DONE: Ended = Ended::Done {
        worked: false,
        again_in: None,
    };

    #[test]
    fn a_first_cycle_runs_at_once_then_polls_fast_while_active() {
        let (mut m, t0) = start();
        assert_eq!(m.wake_at(), Some(t0));
        first_cycle(&mut m, t0, DONE);
        assert_eq!(m.wake_at(), Some(t0 + secs(3)), "active: every 3 s");
        // Past the active window, the idle interval.
        let late = t0 + secs(200);
        assert_eq!(m.on_timer(late), vec![Action::Cycle { visible: false }]);
        m.on_cycle_end(late, DONE, 1.0);
        assert_eq!(m.wake_at(), Some(late + secs(60)));
        // Jitter spreads it.
        m.on_timer(late + secs(60));
        m.on_cycle_end(late + secs(60), DONE, 1.1);
        assert_eq!(m.wake_at(), Some(late + secs(60) + secs(66)));
    }

    #[test]
    fn triggers_during_a_cycle_coalesce_into_one_more() {
        let (mut m, t0) = start();
        assert!(!m.on_timer(t0).is_empty());
        assert_eq!(m.wake_at(), None, "nothing else while a cycle runs");
        for _ in 0..5 {
            m.on(t0, Event::Changed);
        }
        m.on(t0, Event::SyncNow);
        assert!(
            m.on_timer(t0 + secs(1)).is_empty(),
            "never two cycles at once"
        );
        m.on_cycle_end(t0 + secs(2), DONE, 1.0);
        assert_eq!(m.wake_at(), Some(t0), "one more cycle, due at once");
        assert_eq!(
            m.on_timer(t0 + secs(2)),
            vec![Action::Cycle { visible: true }]
        );
        m.on_cycle_end(t0 + secs(3), DONE, 1.0);
        assert_eq!(m.wake_at(), Some(t0 + secs(6)), "then the poll again");
    }

    #[test]
    fn a_burst_of_saves_is_gathered_for_a_moment() {
        let (mut m, t0) = start();
        first_cycle(&mut m, t0, DONE);
        let t = t0 + secs(1);
        m.on(t, Event::Changed);
        assert_eq!(m.wake_at(), Some(t + Duration::from_millis(30)));
    }

    #[test]
    fn failures_back_off_by_doubling_up_to_five_minutes() {
        let (mut m, t0) = start();
        let mut t = t0;
        let mut waits = Vec::new();
        for _ in 0..10 {
            assert!(!m.on_timer(t).is_empty());
            m.on_cycle_end(t, Ended::RetryLater, 1.0);
            let next = m.wake_at().unwrap();
            waits.push((next - t).as_secs());
            t = next;
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(
            m.on_timer(t),
            vec![Action::Cycle { visible: true }],
            "a retry shows as syncing"
        );
        m.on_cycle_end(t, DONE, 1.0);
        assert_eq!(m.failures(), 0, "a good cycle resets the backoff");
    }

    #[test]
    fn a_problem_for_the_user_waits_for_the_user() {
        let (mut m, t0) = start();
        first_cycle(&mut m, t0, Ended::NeedsUser);
        assert_eq!(m.wake_at(), None, "no automatic cycle");
        m.on(t0 + secs(5), Event::SyncNow);
        assert_eq!(m.wake_at(), Some(t0 + secs(5)));
        m.on_timer(t0 + secs(5));
        m.on_cycle_end(t0 + secs(5), Ended::NeedsUser, 1.0);
        assert_eq!(m.wake_at(), None);
        m.on(t0 + secs(9), Event::Changed);
        assert!(m.wake_at().is_some(), "a save tries again");
    }

    #[test]
    fn a_confirmed_deletion_is_approved_then_synced() {
        let (mut m, t0) = start();
        first_cycle(&mut m, t0, Ended::NeedsUser);
        assert_eq!(
            m.on(t0 + secs(1), Event::ConfirmDeletion),
            vec![Action::ApproveDeletion]
        );
        assert_eq!(m.wake_at(), Some(t0 + secs(1)));
    }

    #[test]
    fn paused_means_no_cycle_whatever_arrives() {
        let (mut m, t0) = start();
        assert_eq!(m.on(t0, Event::Pause), vec![Action::ShowPaused]);
        for e in [Event::Changed, Event::SyncNow] {
            m.on(t0, e);
        }
        assert_eq!(m.wake_at(), None);
        assert!(m.on_timer(t0 + secs(600)).is_empty());
        m.on(t0 + secs(601), Event::Resume);
        assert_eq!(m.wake_at(), Some(t0), "resuming runs what was asked for");
    }

    #[test]
    fn resuming_all_syncing_keeps_a_folder_paused_on_its_own() {
        let t0 = Instant::now();
        let mut m = Machine::new(t0, timing(), true);
        assert!(m.on(t0, Event::PauseAll).is_empty(), "already shown paused");
        m.on(t0 + secs(1), Event::ResumeAll);
        assert_eq!(m.wake_at(), None, "the folder's own pause holds");
        assert!(m.paused());
        m.on(t0 + secs(2), Event::Resume);
        assert_eq!(m.wake_at(), Some(t0));
        // And the other way round: resuming the folder during a pause of all.
        let mut m = Machine::new(t0, timing(), false);
        assert_eq!(m.on(t0, Event::PauseAll), vec![Action::ShowPaused]);
        m.on(t0, Event::Pause);
        m.on(t0 + secs(1), Event::Resume);
        assert_eq!(m.wake_at(), None, "all syncing is still paused");
        m.on(t0 + secs(2), Event::ResumeAll);
        assert!(m.wake_at().is_some());
    }

    #[test]
    fn a_paused_start_waits_for_resume() {
        let t0 = Instant::now();
        let mut m = Machine::new(t0, timing(), true);
        assert_eq!(m.wake_at(), None);
        m.on(t0 + secs(1), Event::Resume);
        assert_eq!(m.wake_at(), Some(t0));
    }

    #[test]
    fn another_owner_is_looked_at_again_shortly() {
        let (mut m, t0) = start();
        first_cycle(&mut m, t0, Ended::NotOwner);
        assert_eq!(m.wake_at(), Some(t0 + secs(15)));
    }

    #[test]
    fn files_still_being_written_get_a_look_when_they_may_be_quiet() {
        let (mut m, t0) = start();
        first_cycle(
            &mut m,
            t0,
            Ended::Done {
                worked: true,
                again_in: Some(Duration::from_millis(400)),
            },
        );
        assert_eq!(m.wake_at(), Some(t0 + Duration::from_millis(450)));
    }

    #[test]
    fn reconfiguring_during_a_cycle_applies_after_it_without_a_restart() {
        let (mut m, t0) = start();
        m.on_timer(t0);
        let slower = Timing::with_idle_poll(secs(600));
        assert_eq!(m.on(t0, Event::Reconfigured(slower)), vec![Action::Rewatch]);
        assert_eq!(
            m.on(t0, Event::Reconfigured(slower)),
            vec![],
            "same timing: nothing to redo"
        );
        m.on_cycle_end(t0 + secs(1), DONE, 1.0);
        assert_eq!(m.wake_at(), Some(t0), "the new settings are tried at once");
        let late = t0 + secs(300);
        m.on_timer(late);
        m.on_cycle_end(late, DONE, 1.0);
        assert_eq!(
            m.wake_at(),
            Some(late + secs(600)),
            "with the new idle poll"
        );
    }

    #[test]
    fn shutdown_waits_for_the_running_cycle() {
        let (mut m, t0) = start();
        m.on_timer(t0);
        assert!(m.on(t0, Event::Shutdown).is_empty(), "the cycle ends first");
        assert_eq!(m.on_cycle_end(t0 + secs(1), DONE, 1.0), vec![Action::Stop]);
        let (mut idle, t1) = start();
        assert_eq!(idle.on(t1, Event::Shutdown), vec![Action::Stop]);
        assert_eq!(idle.wake_at(), None);
    }
}
