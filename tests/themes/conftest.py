from tests.pipeline.conftest import credentials, pipeline, pipeline_emulator  # noqa: F401 - shared fixtures
