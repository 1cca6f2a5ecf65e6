//! `cargo run -p weft-sdk-tables`: rewrites the guest SDKs' hook-point tables from the WIT.

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = weft_sdk_tables::repo_root();
    match weft_sdk_tables::write(&root) {
        Ok(files) if files.is_empty() => {
            println!("the SDK tables are current");
            ExitCode::SUCCESS
        }
        Ok(files) => {
            for f in files {
                println!("wrote {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
