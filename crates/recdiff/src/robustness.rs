//! `recdiff robustness`: a comparison's CTR models scored with growing shares of fields removed.

use crate::compare::{CompareArgs, load_plan};
use anyhow::{Context, Result};

pub fn robustness(args: CompareArgs) -> Result<()> {
    let plan = load_plan(&args)?;
    let curves =
        recdiff_train::robustness::run(&plan).with_context(|| format!("robustness of '{}'", plan.config.name))?;
    let md = recdiff_train::robustness::write(&plan, &curves)?;
    println!("{md}");
    println!("plot: {}/robustness.png (and .svg), table: robustness.md, robustness.csv", plan.output_dir().display());
    Ok(())
}
