//! The `callqa` binary: parse arguments, set up logging, run the command,
//! map the outcome to an exit code. Everything else is in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = callqa::cli::Cli::parse();
    callqa::logging::init(cli.global.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("callqa: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(callqa::cli::run(cli)) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("callqa: {}", callqa::logging::error_chain(&*e));
            std::process::ExitCode::from(1)
        }
    }
}
