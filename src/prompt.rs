//! Confirmation behind a small trait: dialoguer on a terminal, scripted answers in tests.

use std::collections::VecDeque;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("could not read the answer from the terminal: {0}")]
    Terminal(String),
    #[error("no more scripted answers")]
    Exhausted,
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
            .map_err(|e| PromptError::Terminal(e.to_string()))
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
