"""What the test modules share: test data, repositories, the template, services (imported as `support.<module>`).

The root conftest.py holds only the unit-test fixtures and the marker hooks; the fixtures that start the Docker
engine, MLflow or Spark are in services.py, a plugin the root conftest.py loads.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
