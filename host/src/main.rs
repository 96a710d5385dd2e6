use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    ecs_operator::cli::run(ecs_operator::cli::Cli::parse())
}
