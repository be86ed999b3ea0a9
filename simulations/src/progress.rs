//! Progress of the set-up steps that take minutes on large scenarios (10,000 users register for
//! several minutes at 1,000 nodes), so a researcher sees the run move rather than one silent line.

/// Where progress lines go: stderr when the run shows progress, nowhere otherwise.
pub(crate) type Say<'a> = &'a (dyn Fn(String) + Sync);

/// Counts the items of a set-up step as they finish and says so at every tenth of `total`.
pub(crate) fn tenths<'a, T>(what: &'a str, total: usize, say: Say<'a>) -> impl FnMut(&T) + 'a {
    let step = total.div_ceil(10).max(1);
    let mut done = 0;
    move |_| {
        done += 1;
        if done % step == 0 && done < total {
            say(format!("{what}: {done} of {total}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn lines_for(total: usize) -> Vec<String> {
        let lines = Mutex::new(Vec::new());
        let say = |line: String| lines.lock().expect("not poisoned").push(line);
        let mut count = tenths::<()>("registered", total, &say);
        for _ in 0..total {
            count(&());
        }
        drop(count);
        lines.into_inner().expect("not poisoned")
    }

    #[test]
    fn says_every_tenth_but_not_the_end() {
        let lines = lines_for(100);
        assert_eq!(lines.len(), 9);
        assert_eq!(lines[0], "registered: 10 of 100");
        assert_eq!(lines[8], "registered: 90 of 100");
    }

    #[test]
    fn small_steps_say_each_item() {
        assert_eq!(lines_for(3), ["registered: 1 of 3", "registered: 2 of 3"]);
        assert!(lines_for(0).is_empty());
    }
}
