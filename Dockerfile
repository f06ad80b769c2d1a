# The course's JupyterLab image for the Docker-only route (`docker compose --profile lab up`).
# It holds labsupport, JupyterLab and the docker CLI; it drives the host's engine through the mounted socket.
#
# Build arguments (docker-compose.yml passes them from LAB_* variables):
#   DOCKER_CLI_IMAGE, PYTHON_IMAGE  the base images; defaults are the public ones. Without internet, make
#                                   stand-ins with scripts/make-python-base (labsupport/docker-cli:28,
#                                   labsupport/python:3.11) and pass those.
#   WHEELHOUSE                      a folder of the build context holding labsupport's dependencies as wheels
#                                   (pip wheel . 'setuptools>=77' wheel -w wheelhouse, run by a Python of the
#                                   image's exact version: 3.11.2, Debian 12's /usr/bin/python3, for
#                                   labsupport/python:3.11): pip then installs from it with no index.
#                                   Empty (the default): pip installs from PyPI.
ARG DOCKER_CLI_IMAGE=docker:28-cli
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${DOCKER_CLI_IMAGE} AS docker-cli

# labsupport goes into a virtual environment (Debian's own python refuses pip installs outside one); this
# stage's copy of the sources and of the wheelhouse stays out of the final image.
FROM ${PYTHON_IMAGE} AS install
ARG WHEELHOUSE=
COPY . /tmp/labsupport
RUN python3 -m venv /opt/labsupport \
 && /opt/labsupport/bin/pip install --no-cache-dir --disable-pip-version-check \
      ${WHEELHOUSE:+--no-index --find-links /tmp/labsupport/$WHEELHOUSE} /tmp/labsupport

FROM ${PYTHON_IMAGE}
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=install /opt/labsupport /opt/labsupport
ENV PATH=/opt/labsupport/bin:$PATH \
    LAB_STATE_DIR=/course/.lab
WORKDIR /course
EXPOSE 8888
CMD ["labsupport", "lab", "--no-browser", "--ip", "0.0.0.0", "--port", "8888", "--skip-up"]
