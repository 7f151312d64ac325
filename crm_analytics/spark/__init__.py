"""Apache Spark as an optional engine: the package's SQL and scoring, beyond one machine.

Install with ``pip install crm_analytics[spark]`` (pyspark and a pinned sqlglot);
nothing else in the package imports this subpackage, so everything works without it.

* :mod:`~crm_analytics.spark.translate` -- the DuckDB queries translated to Spark SQL
  (sqlglot plus the package's own rules);
* :mod:`~crm_analytics.spark.engine` -- a Spark session set up as the translation
  assumes (UTC), the contract's tables from Parquet, running a registered query;
* :mod:`~crm_analytics.spark.scoring` -- CLV scores: histories aggregated in Spark,
  the package's model fitted on the driver, customers scored in ``mapInPandas``;
* :mod:`~crm_analytics.spark.partitions` -- one shuffle bringing each customer's rows
  into one partition, each partition an in-memory DuckDB store for the package's code;
* :mod:`~crm_analytics.spark.tasks` -- what a task computes for its customers (size,
  CLV, churn, RFM measures, needs features) with the nightly run's functions;
* :mod:`~crm_analytics.spark.segments` -- RFM quintiles and value tiers from
  distributed ranks, the needs segments fitted on the driver;
* :mod:`~crm_analytics.spark.run` -- a scoring run from Parquet (or Delta) to Parquet
  scores by run id, with a marker written last (visible only when complete).

The README's *Running on Spark* says what is done and what is not yet.
"""
