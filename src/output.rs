//! Where a command's report goes. Normally standard output; in a multi-account run each
//! account's part is written into its own buffer and printed whole when the account is done,
//! so accounts worked on at once never interleave their lines.

use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static SINK: RefCell<String>;
}

/// Write `s` to the current sink.
pub fn emit(s: &str) {
    if SINK.try_with(|b| b.borrow_mut().push_str(s)).is_err() {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    }
}

/// Whether output is being collected (progress bars and prompts then stay off).
pub fn capturing() -> bool {
    SINK.try_with(|_| ()).is_ok()
}

/// Run `f` with its output collected; return its result and what it wrote.
pub async fn capture<T>(f: impl Future<Output = T>) -> (T, String) {
    SINK.scope(RefCell::new(String::new()), async move {
        let t = f.await;
        let text = SINK.with(|b| std::mem::take(&mut *b.borrow_mut()));
        (t, text)
    })
    .await
}

/// `print!` to the current sink.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::output::emit(&format!($($t)*)) };
}

/// `println!` to the current sink.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::emit("\n") };
    ($($t:tt)*) => { $crate::output::emit(&format!("{}\n", format_args!($($t)*))) };
}
