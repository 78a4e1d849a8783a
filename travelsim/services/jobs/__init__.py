"""The background jobs run by ``travelsim.scheduler``. No Reflex, no APScheduler.

One concern per module; import the module that holds the name (this package re-exports
nothing):

* :mod:`~travelsim.services.jobs.metering`: what one run of a job did (:class:`RunStats`,
  the per-run SFT call counter :class:`MeteredBudget`, :func:`record_run` writing the
  :class:`~travelsim.models.JobRun` row) and how healthy a run is (:func:`job_health`).
* :mod:`~travelsim.services.jobs.viewed`: the "being viewed" marks (:func:`mark_viewed`),
  shared by all workers through Redis when ``REDIS_URL`` is set.
* :mod:`~travelsim.services.jobs.sync_plan`: which eSIMs the scheduled usage sync reads, and
  in which order.
* :mod:`~travelsim.services.jobs.runs`: the jobs themselves (usage sync, catalogue,
  inventory, recovery, notifications, email, callback sweep).
"""
