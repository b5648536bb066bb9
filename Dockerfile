# The dashboard in one container. Build: docker build -t urban-symbiosis .
# Run:   docker run -p 8501:8501 -v us-data:/app/data -v us-config:/app/config urban-symbiosis
# (the volumes keep the database with its versions and the credentials file across restarts).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY deploy/streamlit-production.toml .streamlit/config.toml
ENV URBAN_SYMBIOSIS_DB=/app/data/urban_symbiosis.duckdb
EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health')"
# At start: a missing database is built; a damaged one (status exit 3) is renamed aside in the data volume
# (urban_symbiosis.duckdb.damaged-<UTC time>, never deleted) and a fresh one built; an older one (exit 4) is
# upgraded in place; exit 5 stops.
CMD ["sh", "-c", "python -m decision_tools status --db $URBAN_SYMBIOSIS_DB; c=$?; if [ $c -eq 1 ] || [ $c -eq 3 ]; then python -m decision_tools build --move-aside-damaged --db $URBAN_SYMBIOSIS_DB || exit 1; elif [ $c -eq 4 ]; then python -m decision_tools upgrade --db $URBAN_SYMBIOSIS_DB || exit $?; elif [ $c -ne 0 ]; then exit $c; fi; exec streamlit run app.py --server.port 8501"]
