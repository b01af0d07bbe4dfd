"""The serving image: build, smoke-test and push it through one Docker engine client."""
