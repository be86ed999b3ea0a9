//! Failed logins counted per account, from every address together: the per-address budget stops one
//! client guessing quickly, this stops many addresses guessing one account's password. The cost is that
//! a stranger can make an account's new logins wait out the window; sessions already open keep working,
//! and the refusal looks the same whether or not the account exists.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// The counting window: after this long an account's failures are forgotten.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Windows are swept once this many accounts are counted, so guesses at made-up names cannot grow
/// the table without bound.
const SWEEP_AT: usize = 100_000;

struct Failures {
    since: Instant,
    count: u32,
}

/// The counts, keyed by account (or, for a name no account has, by that name, so an unknown name is
/// refused the same way a real one is).
pub(crate) struct FailedLogins {
    budget: u32,
    accounts: Mutex<HashMap<String, Failures>>,
}

impl FailedLogins {
    /// `budget` failures per window; 0 turns the limit off.
    pub(crate) fn new(budget: u32) -> Self {
        Self {
            budget,
            accounts: Mutex::default(),
        }
    }

    /// Refuses a login attempt once the account's failures in this window used up its budget, before
    /// the password is checked (a correct guess then must not be told apart from a wrong one).
    pub(crate) fn check(&self, account: &str) -> Result<()> {
        if self.budget == 0 {
            return Ok(());
        }
        let accounts = self.accounts();
        match accounts.get(account) {
            Some(failures) if failures.count >= self.budget && failures.since.elapsed() < WINDOW => {
                let wait = WINDOW.saturating_sub(failures.since.elapsed()).as_secs().max(1);
                Err(Error::TooManyAttempts { retry_after_secs: wait })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn failed(&self, account: &str) {
        if self.budget == 0 {
            return;
        }
        let mut accounts = self.accounts();
        if accounts.len() >= SWEEP_AT {
            accounts.retain(|_, failures| failures.since.elapsed() < WINDOW);
        }
        let failures = accounts.entry(account.to_owned()).or_insert(Failures {
            since: Instant::now(),
            count: 0,
        });
        if failures.since.elapsed() >= WINDOW {
            *failures = Failures {
                since: Instant::now(),
                count: 0,
            };
        }
        failures.count += 1;
    }

    /// The owner got in: earlier failures were not a stranger's, or no longer matter.
    pub(crate) fn succeeded(&self, account: &str) {
        self.accounts().remove(account);
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_refused_after_its_budget_of_failures() {
        let logins = FailedLogins::new(3);
        for _ in 0..3 {
            logins.check("alice").unwrap();
            logins.failed("alice");
        }
        let err = logins.check("alice").unwrap_err();
        assert!(matches!(err, Error::TooManyAttempts { retry_after_secs } if retry_after_secs > 800));
        logins.check("bob").unwrap();
    }

    #[test]
    fn a_success_clears_the_count_and_zero_means_no_limit() {
        let logins = FailedLogins::new(2);
        logins.failed("alice");
        logins.succeeded("alice");
        logins.failed("alice");
        logins.check("alice").unwrap();
        let unlimited = FailedLogins::new(0);
        for _ in 0..100 {
            unlimited.failed("alice");
        }
        unlimited.check("alice").unwrap();
    }
}
