//! The started function's process, never left behind.

use std::ops::{Deref, DerefMut};
use std::process::Child;

/// A child process that is killed (SIGKILL) and reaped when dropped: a
/// failed test or measurement must not leave a function running that holds
/// its port and its share of the CPU. Dereferences to the
/// [`std::process::Child`], for its pid, its pipes and `try_wait`.
#[derive(Debug)]
pub struct KillOnDrop(Child);

impl From<Child> for KillOnDrop {
    fn from(child: Child) -> KillOnDrop {
        KillOnDrop(child)
    }
}

impl Deref for KillOnDrop {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Either fails only when the process is already gone and reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
