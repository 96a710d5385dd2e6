use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    ecs_operator::memory::use_one_malloc_arena();
    ecs_operator::cli::run(ecs_operator::cli::Cli::parse())
}
