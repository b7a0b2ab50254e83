"""Step pipelines over a workspace: ``build-demo`` and ``prepare`` share one runner.

- :mod:`core.pipeline.runner`: ``Step``, ``run_steps`` (skip finished work, time each step,
  record the times in ``build_report.json``, one run per workspace at a time);
- :mod:`core.pipeline.status`: the live status file ``build_status.json`` (step, count, time
  left) that the app reads, and which page waits for which step;
- :mod:`core.pipeline.prepare`: the steps that bring an imported workspace to where every
  page works, what is missing (``info``), and the ``prepare`` command (:mod:`core.pipeline.cli`).
"""
