"""Commands on top of everything: the main job, baselines, cross-validation, predict, the CLI."""
