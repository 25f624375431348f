# The pipeline as an image: materializes every asset on the embedded warehouse by default.
# Install steps match the README's "by hand" section, so both stay exercised.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=true \
    PREFECT_HOME=/home/pipeline/.prefect \
    WAREHOUSE_URL=chdb:///home/pipeline/data/warehouse \
    SALES_DASHBOARD_PATH=/home/pipeline/data/reports/sales_dashboard.html

# /app and the data directory belong to the user that runs: `poetry install` creates
# /app/.venv; the warehouse and the dashboard go to the data directory, whose owner a
# named volume mounted on it takes from the image (README: "In a container").
RUN useradd --create-home --uid 10001 --user-group pipeline \
    && install -d -o pipeline -g pipeline /app /home/pipeline/data
WORKDIR /app

RUN pip install "poetry==2.5.1"

COPY --chown=pipeline:pipeline pyproject.toml poetry.lock poetry.toml README.md ./
COPY --chown=pipeline:pipeline orchestration ./orchestration
COPY --chown=pipeline:pipeline io_managers ./io_managers
COPY --chown=pipeline:pipeline assets ./assets
COPY --chown=pipeline:pipeline schemas ./schemas
COPY --chown=pipeline:pipeline ddl ./ddl

USER 10001:10001
# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE every run would otherwise
# compile each imported module from source (~2 s of every command; docs/benchmark.md).
RUN poetry install --only main --compile \
    && .venv/bin/python -m compileall -q orchestration io_managers assets schemas

CMD ["poetry", "run", "pipeline", "materialize"]
