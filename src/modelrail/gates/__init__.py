"""The gates: data, model (with the champion), drift; their suites and the records every gate writes."""
