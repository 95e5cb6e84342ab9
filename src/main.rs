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
    // Evaluation recurses as deep as the rules nest (at most MAX_EVAL_DEPTH levels,
    // enforced by the checker): run on threads whose stack holds that with room to
    // spare, the main thread's 8 MiB and rayon's 2 MiB being too tight a margin.
    let stack = mianshen::internals::check::EVAL_STACK;
    // The global pool runs the property checks; the batch builds its own pool.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(stack)
        .build_global();
    match std::thread::Builder::new()
        .name("mianshen".into())
        .stack_size(stack)
        .spawn(cli::main)
    {
        Ok(handle) => handle
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e)),
        Err(_) => cli::main(),
    }
}
