# The course's JupyterLab image for the Docker-only route (`docker compose --profile lab up`).
# It holds labsupport, JupyterLab and the docker CLI; it drives the host's engine through the mounted socket.
FROM docker:28-cli AS docker-cli

FROM python:3.12-slim
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
WORKDIR /course
COPY pyproject.toml README.md ./
COPY labsupport ./labsupport
RUN pip install --no-cache-dir .
ENV LAB_STATE_DIR=/course/.lab
EXPOSE 8888
CMD ["labsupport", "lab", "--no-browser", "--ip", "0.0.0.0", "--port", "8888", "--skip-up"]
