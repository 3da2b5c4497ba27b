//! The command line: parse, set up logging and colours, run one command, and turn its result
//! into an exit code and, on failure, one clear line on stderr.

mod apply_cmd;
mod args;
mod completions_cmd;
mod context;
mod controls_cmd;
mod fleet;
mod guide_cmd;
mod guide_exception;
mod history_cmd;
mod iam_policy_cmd;
mod logging;
mod plan_cmd;
mod report_cmd;
mod stats;
mod undo_cmd;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

pub use args::{AccountArgs, Cli, Command, ExceptionArgs, GlobalArgs, OutputFormat, SelectionArgs};

use crate::exit::{Exit, Fatal};

pub fn main() -> ExitCode {
    stats::started();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind as K;
            return match e.kind() {
                K::DisplayHelp | K::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                K::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::from(Exit::Error.code())
                }
                _ => {
                    eprint!("{}", usage_error(&e));
                    ExitCode::from(Exit::Error.code())
                }
            };
        }
    };
    logging::init(&cli.global);
    let colour = !cli.global.no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::stdout().is_terminal();
    console::set_colors_enabled(colour);
    console::set_colors_enabled_stderr(colour && std::io::stderr().is_terminal());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        // Security Hub's finding shapes nest hundreds of resource types inline: deserializing
        // one in an unoptimized build needs more than tokio's default 2 MiB worker stack.
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Error.code());
        }
    };
    let outcome = rt.block_on(run(cli));
    stats::write_if_asked();
    match outcome {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(f) => {
            eprintln!("error: {f}");
            ExitCode::from(f.exit.code())
        }
    }
}

/// Flags of other tools that people type out of habit, and cis-fix's word for them.
const HABITS: &[(&str, &str)] = &[
    ("--auto-approve", "--yes"),
    ("--assume-yes", "--yes"),
    ("--force", "--yes"),
    ("--dry-run", "`cis-fix plan`"),
    ("--output", "--format or -o"),
];

/// A clap error as cis-fix shows it, on one line like every other error: clap's error, its
/// suggestions (`a similar subcommand exists: 'plan'`, the possible values of an enum flag),
/// the cis-fix flag for one another tool uses, and where help is.
fn usage_error(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut hints: Vec<String> = Vec::new();
    for l in lines {
        let t = l.trim();
        if let Some(tip) = t.strip_prefix("tip: ") {
            if !tip.starts_with("to pass") {
                hints.push(tip.to_string());
            }
        } else if let Some(v) = t.strip_prefix("[possible values: ") {
            hints.push(format!("possible values: {}", v.trim_end_matches(']')));
        }
    }
    if let Some(clap::error::ContextValue::String(arg)) =
        e.get(clap::error::ContextKind::InvalidArg)
    {
        let flag = arg.split(['=', ' ']).next().unwrap_or(arg);
        if let Some((_, ours)) = HABITS.iter().find(|(h, _)| *h == flag) {
            hints.push(format!("did you mean {ours}?"));
        }
    }
    let mut out = format!("error: {first}");
    for h in hints {
        out.push_str("; ");
        out.push_str(&h);
    }
    out.push_str(" (see `cis-fix --help`)\n");
    out
}

async fn run(mut cli: Cli) -> Result<Exit, Fatal> {
    let cfg = crate::config::Config::load(cli.global.config.as_deref())
        .map_err(|e| Fatal::usage(e.to_string()))?;
    if let Some(p) = &cfg.path {
        tracing::info!(file = %p.display(), "settings file");
    }
    // Flags win; the file fills in what they leave unset.
    cli.global.profile = cli.global.profile.take().or(cfg.profile.clone());
    cli.global.regions = cli.global.regions.take().or(cfg.regions.clone());
    cli.global.max_rps = cli.global.max_rps.or(cfg.max_rps);
    for (service, limit) in &cfg.rate_limits {
        if !cli.global.rate_limits.iter().any(|(s, _)| s == service) {
            cli.global.rate_limits.push((service.clone(), *limit));
        }
    }
    cli.global.state = cli.global.state.take().or(cfg.state.clone());
    // The exceptions file is read and checked before any AWS call.
    match &cli.command {
        Command::Plan {
            selection,
            exceptions,
            ..
        }
        | Command::Apply {
            selection,
            exceptions,
            ..
        }
        | Command::Guide {
            selection,
            exceptions,
            ..
        } => load_exceptions(exceptions, &cfg, selection)?,
        _ => {}
    }
    if let Command::Plan { hub, .. } | Command::Apply { hub, .. } = &cli.command {
        if hub.from_security_hub {
            if let Command::Apply {
                plan_file: Some(_), ..
            } = &cli.command
            {
                return Err(Fatal::usage(
                    "--from-security-hub selects controls when planning: use it with `cis-fix plan -o FILE` or with `apply` without a saved plan",
                ));
            }
            crate::security_hub::enable_input();
        }
    }
    if let Command::Apply {
        update_security_hub: true,
        ..
    }
    | Command::Undo {
        update_security_hub: true,
        ..
    } = &cli.command
    {
        crate::security_hub::enable_update();
    }
    let g = &cli.global;
    match &cli.command {
        Command::Controls { selection, json } => controls_cmd::run(selection, *json),
        Command::Plan {
            selection,
            params,
            out,
            format,
            detailed_exitcode,
            show_compliant,
            expand,
            import_to_security_hub,
            ..
        } => {
            let view = plan_cmd::View {
                format: *format,
                detailed_exitcode: *detailed_exitcode,
                show_compliant: *show_compliant,
                expand: *expand,
                import_to_security_hub: *import_to_security_hub,
            };
            plan_cmd::run(
                g,
                selection,
                &params.params_with(&cfg)?,
                out.as_deref(),
                view,
            )
            .await
        }
        Command::Apply {
            plan_file,
            selection,
            params,
            yes,
            allow_irreversible,
            force_in_use,
            allow_destructive,
            expand,
            ..
        } => {
            let flags = apply_cmd::ApplyFlags {
                yes: *yes,
                allow_irreversible: *allow_irreversible,
                force_in_use: *force_in_use,
                allow_destructive: *allow_destructive,
                expand: *expand,
            };
            // A saved plan carries its own parameters; only flags given now can conflict.
            let params = if plan_file.is_some() {
                if !params.is_empty() {
                    return Err(Fatal::usage(
                        "a saved plan keeps the parameters it was made with: drop --set/--trusted-cidr/--alarm-*, or make a new plan with them",
                    ));
                }
                crate::remediations::Params::default()
            } else {
                params.params_with(&cfg)?
            };
            apply_cmd::run(g, plan_file.as_deref(), selection, &params, flags).await
        }
        Command::Undo {
            run_id,
            changes,
            yes,
            force,
            ..
        } => undo_cmd::run(g, run_id.as_deref(), changes, *yes, *force).await,
        Command::History {
            run_id,
            json,
            verify: true,
        } => history_cmd::verify(g, run_id.as_deref(), *json),
        Command::History { run_id, json, .. } => history_cmd::run(g, run_id.as_deref(), *json),
        Command::Guide {
            selection, params, ..
        } => guide_cmd::run(g, selection, &params.params_with(&cfg)?).await,
        Command::IamPolicy { selection, purpose } => iam_policy_cmd::run(selection, *purpose),
        Command::Completions { shell } => completions_cmd::run(shell),
        Command::Report {
            action: Some(args::ReportAction::Merge { files, out }),
            ..
        } => report_cmd::merge(files, out.as_deref()),
        Command::Report {
            action: None,
            plan_file,
            selection,
            params,
            runs,
            since,
            all_runs,
            format,
            out,
        } => {
            let req = report_cmd::Request {
                plan_file: plan_file.as_deref(),
                runs: report_cmd::Runs {
                    ids: runs.clone(),
                    since: since.clone(),
                    all: *all_runs,
                },
                format: *format,
                out: out.as_deref(),
            };
            report_cmd::run(g, &cfg, selection, params, req).await
        }
    }
}

/// Read the run's exceptions file, if there is one, and install it (with the exception tag
/// key) for every plan of the run.
fn load_exceptions(
    args: &ExceptionArgs,
    cfg: &crate::config::Config,
    sel: &SelectionArgs,
) -> Result<(), Fatal> {
    let mut x = match crate::exceptions::locate(args.file.as_deref(), cfg) {
        None => crate::exceptions::Exceptions::none(),
        Some((path, must_exist)) => {
            if must_exist && !path.is_file() {
                return Err(Fatal::usage(format!(
                    "exceptions file {} does not exist",
                    path.display()
                )));
            }
            let cat = context::catalog()?;
            let x = crate::exceptions::Exceptions::load(&path, sel.benchmark, cat)
                .map_err(|e| Fatal::usage(e.to_string()))?;
            tracing::info!(file = %path.display(), entries = x.entries.len(), "exceptions file");
            x
        }
    };
    x.strict = args.strict_exceptions;
    if let Some(k) = &cfg.exception_tag {
        x.tag_key = k.clone();
    }
    crate::exceptions::install(x);
    Ok(())
}

fn r_file(plan: &crate::plan::Plan) -> String {
    plan.exceptions
        .as_ref()
        .map(|r| r.file.clone())
        .unwrap_or_default()
}

/// With `--strict-exceptions`, an expired entry is an error (after the plan is shown).
pub(crate) fn strict_exceptions_check(plan: &crate::plan::Plan) -> Result<(), Fatal> {
    if !crate::exceptions::installed().is_some_and(|x| x.strict) {
        return Ok(());
    }
    let expired = plan
        .exceptions
        .as_ref()
        .map(|r| r.expired.clone())
        .unwrap_or_default();
    match expired.first() {
        None => Ok(()),
        Some(first) => Err(Fatal::usage(format!(
            "{} expired exception{} in {} ({}: {}, expired {}); renew or remove {} (--strict-exceptions)",
            expired.len(),
            if expired.len() == 1 { "" } else { "s" },
            r_file(plan),
            first.source,
            first.matches,
            first.expires.as_deref().unwrap_or("?"),
            if expired.len() == 1 { "it" } else { "them" }
        ))),
    }
}
