"""Streamed runs of the local model (``--engine process`` and ``--engine ray``): the input read, classified
and written part by part, in this process or as a Ray Data pipeline, into the usual run folder.

``source`` (formats, the plan of parts, reading a part), ``work`` (one part: classify, write its Parquet file,
its record), ``journal`` (plan and records in the run folder), ``engine`` (a new run and ``--resume``),
``ray_engine`` (the pipeline), ``snapshot`` (the input copied or kept by sha256), ``finish`` (table, metrics
from the parts' counts, summary).
"""
