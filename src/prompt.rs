//! Confirmation behind a small trait: dialoguer on a terminal, scripted answers in tests.

use std::collections::VecDeque;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("could not read the answer from the terminal: {0}")]
    Terminal(String),
    /// Ctrl-C at the prompt: the terminal is raw while a prompt reads a key, so Ctrl-C
    /// arrives as a key, which dialoguer turns into an interrupted read (and a SIGINT).
    #[error("interrupted at the prompt (Ctrl-C)")]
    Interrupted,
    #[error("no more scripted answers")]
    Exhausted,
}

/// Whether a prompt ended because the user pressed Ctrl-C.
pub fn is_ctrl_c(e: &dialoguer::Error) -> bool {
    matches!(e, dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted)
}

/// Show the cursor again. dialoguer hides it while a menu or a yes/no question is up and
/// does not show it when the prompt ends in an error (Ctrl-C); the terminal's line mode is
/// already back by then (console restores it before it reports the key).
pub fn restore_terminal() {
    // Only on a terminal: elsewhere the escape sequence would garble stderr (logs, pipes).
    let term = console::Term::stderr();
    if term.is_term() {
        let _ = term.show_cursor();
    }
}

/// Restores the terminal when dropped: held for an interactive command, it covers every
/// way out of it, errors and early returns included.
pub struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

pub trait Prompter {
    /// Ask a yes/no question; the default answer is no.
    fn confirm(&mut self, question: &str) -> Result<bool, PromptError>;
}

/// Asks on the terminal (stderr), so stdout stays clean for the plan.
pub struct TerminalPrompter;

impl Prompter for TerminalPrompter {
    fn confirm(&mut self, question: &str) -> Result<bool, PromptError> {
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact_on_opt(&console::Term::stderr())
            .map(|a| a.unwrap_or(false))
            .map_err(|e| {
                restore_terminal();
                if is_ctrl_c(&e) {
                    PromptError::Interrupted
                } else {
                    PromptError::Terminal(e.to_string())
                }
            })
    }
}

/// Answers yes to everything (`--yes`).
pub struct AssumeYes;

impl Prompter for AssumeYes {
    fn confirm(&mut self, _question: &str) -> Result<bool, PromptError> {
        Ok(true)
    }
}

/// Replays fixed answers and records the questions asked.
#[derive(Default)]
pub struct Scripted {
    pub answers: VecDeque<bool>,
    pub asked: Vec<String>,
}

impl Scripted {
    pub fn new(answers: &[bool]) -> Self {
        Scripted {
            answers: answers.iter().copied().collect(),
            asked: Vec::new(),
        }
    }
}

impl Prompter for Scripted {
    fn confirm(&mut self, question: &str) -> Result<bool, PromptError> {
        self.asked.push(question.to_string());
        self.answers.pop_front().ok_or(PromptError::Exhausted)
    }
}
