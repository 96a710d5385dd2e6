//! `plugin test`: builds the project if its sources changed, checks the component, and runs the
//! project's recorded cases (`cases/`) through `ecs-operator test` itself, with the component loaded
//! as a `--plugin-dir` plugin beside the built-ins. The capabilities the plugin declares are granted
//! for the test (in a cluster the operator's administrator grants them, `--grant NAME=CAPABILITY`).

use super::{CASES_DIR, Project, TestArgs, build, check, progress};
use crate::cli::{self, Failure};

pub fn test_project(args: &TestArgs) -> Result<(), Failure> {
    let project = Project::read(&args.dir)?;
    let component = project.default_output(&args.dir);
    build::build_if_needed(&project, &args.dir, &component)?;
    let info = check::check(&project, &component, &args.plugins)?;
    let dir = check::PluginDir::new(&project, &component, args.plugins.plugin_dir.as_deref())?;
    let mut plugins = check::load_args(&project, &args.plugins, &dir);
    for capability in &info.capabilities {
        let grant = (project.name.clone(), capability.clone());
        if !plugins.grants.contains(&grant) {
            progress(format!(
                "granted {capability} to {} for the test (in a cluster: --grant {}={capability})",
                project.name, project.name
            ));
            plugins.grants.push(grant);
        }
    }
    let cases = args.dir.join(CASES_DIR);
    cli::test(&cli::TestArgs { cases: vec![cases], update: args.update, plugins })
        .map_err(|f| Failure { message: dir.unscratch(&f.message, &component), ..f })
}
