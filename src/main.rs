//! The `mianshen` command.

mod cli;

// Record batches allocate many small, short-lived values; mimalloc handles that
// pattern markedly better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A command whose output is piped into `head` should end quietly when the pipe
/// closes, as Unix tools do, instead of failing on every later write.
#[cfg(unix)]
fn default_sigpipe() {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    #[cfg(unix)]
    default_sigpipe();
    cli::main()
}
