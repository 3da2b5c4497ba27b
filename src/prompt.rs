//! Confirmation behind a small trait: typed answers on a terminal, scripted answers in tests.
//!
//! Every answer is a word typed and ended with Enter (`yes`, `no`, `y`, `n`, …), never a single
//! keypress: a keypress answer left its Enter behind to answer the next question. An empty
//! line answers nothing and the question is asked again. The question itself is printed once,
//! wrapped to the terminal, above a short input line, so a long question is never redrawn.

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

/// The answer to a question about one change of several of the same control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemAnswer {
    Yes,
    No,
    /// Yes to this one and every remaining question of the same control.
    YesToControl,
    /// No to this one and every remaining question of the same control.
    NoToControl,
    /// Show the change's diff again, then ask again.
    ShowDiff,
}

/// A typed yes/no: `yes`, `y`, `no`, `n` (any case, spaces around ignored); else `None`.
pub fn parse_yes_no(typed: &str) -> Option<bool> {
    match typed.trim().to_lowercase().as_str() {
        "yes" | "y" => Some(true),
        "no" | "n" => Some(false),
        _ => None,
    }
}

/// A typed answer to a per-change question; else `None`.
pub fn parse_item_answer(typed: &str) -> Option<ItemAnswer> {
    Some(match typed.trim().to_lowercase().as_str() {
        "yes" | "y" => ItemAnswer::Yes,
        "no" | "n" => ItemAnswer::No,
        "all" | "a" => ItemAnswer::YesToControl,
        "none" | "skip" | "s" => ItemAnswer::NoToControl,
        "diff" | "d" => ItemAnswer::ShowDiff,
        _ => return None,
    })
}

pub trait Prompter {
    /// Ask a yes/no question; the default answer is no.
    fn confirm(&mut self, question: &str) -> Result<bool, PromptError>;

    /// Ask about one change; `control` names its control for the "all" and "none" answers.
    fn ask_item(&mut self, question: &str, control: &str) -> Result<ItemAnswer, PromptError> {
        let _ = control;
        self.confirm(question)
            .map(|y| if y { ItemAnswer::Yes } else { ItemAnswer::No })
    }
}

/// Asks on the terminal (stderr), so stdout stays clean for the plan.
pub struct TerminalPrompter;

impl TerminalPrompter {
    /// Print `question` once, then read typed lines until `parse` accepts one.
    fn ask<T>(
        question: &str,
        input: &str,
        hint: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, PromptError> {
        let term = console::Term::stderr();
        let width = usize::from(term.size().1).max(40);
        for line in question.lines() {
            let _ = term.write_str(&crate::render::wrap(line, width, "", 2));
        }
        loop {
            let typed: String = dialoguer::Input::new()
                .with_prompt(input)
                .allow_empty(true)
                .interact_text_on(&term)
                .map_err(|e| {
                    restore_terminal();
                    if is_ctrl_c(&e) {
                        PromptError::Interrupted
                    } else {
                        PromptError::Terminal(e.to_string())
                    }
                })?;
            if let Some(a) = parse(&typed) {
                return Ok(a);
            }
            let _ = term.write_line(hint);
        }
    }
}

impl Prompter for TerminalPrompter {
    fn confirm(&mut self, question: &str) -> Result<bool, PromptError> {
        Self::ask(
            question,
            "yes/no",
            "  (type yes or no and press Enter)",
            parse_yes_no,
        )
    }

    fn ask_item(&mut self, question: &str, control: &str) -> Result<ItemAnswer, PromptError> {
        // The choices go with the question, printed once; the input line stays short so it
        // never wraps (a wrapped input line is redrawn on every key).
        let question = format!(
            "{question}\n  yes · no · all (yes to the rest of {control}) · none (no to the rest of {control}) · diff (show it again)"
        );
        Self::ask(
            &question,
            "answer",
            "  (type yes, no, all, none or diff and press Enter)",
            parse_item_answer,
        )
    }
}

/// Answers yes to everything (`--yes`).
pub struct AssumeYes;

impl Prompter for AssumeYes {
    fn confirm(&mut self, _question: &str) -> Result<bool, PromptError> {
        Ok(true)
    }
}

/// Replays fixed answers and records the questions asked. Per-change questions take from
/// `item_answers` while it has any, then from `answers` (yes/no).
#[derive(Default)]
pub struct Scripted {
    pub answers: VecDeque<bool>,
    pub item_answers: VecDeque<ItemAnswer>,
    pub asked: Vec<String>,
}

impl Scripted {
    pub fn new(answers: &[bool]) -> Self {
        Scripted {
            answers: answers.iter().copied().collect(),
            ..Default::default()
        }
    }
}

impl Prompter for Scripted {
    fn confirm(&mut self, question: &str) -> Result<bool, PromptError> {
        self.asked.push(question.to_string());
        self.answers.pop_front().ok_or(PromptError::Exhausted)
    }

    fn ask_item(&mut self, question: &str, _control: &str) -> Result<ItemAnswer, PromptError> {
        match self.item_answers.pop_front() {
            Some(a) => {
                self.asked.push(question.to_string());
                Ok(a)
            }
            None => self
                .confirm(question)
                .map(|y| if y { ItemAnswer::Yes } else { ItemAnswer::No }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_typed_words() {
        assert_eq!(parse_yes_no("yes"), Some(true));
        assert_eq!(parse_yes_no(" Y "), Some(true));
        assert_eq!(parse_yes_no("n"), Some(false));
        assert_eq!(parse_yes_no("NO"), Some(false));
        // An empty line (a stray Enter) or anything else answers nothing.
        assert_eq!(parse_yes_no(""), None);
        assert_eq!(parse_yes_no("yess"), None);
        assert_eq!(parse_item_answer("all"), Some(ItemAnswer::YesToControl));
        assert_eq!(parse_item_answer("none"), Some(ItemAnswer::NoToControl));
        assert_eq!(parse_item_answer("d"), Some(ItemAnswer::ShowDiff));
        assert_eq!(parse_item_answer(""), None);
    }
}
