# The image that `peakdrill plan --output-dir` manifests run (pass it as --image): load generators,
# and with --drill the drill runner too.
# It holds peakdrill and the Locust it pins; the load tests come from the ConfigMap, not the image,
# so changing a journey or a profile needs no rebuild.
#   docker build -t registry.example.com/peakdrill:0.1.0 . && docker push registry.example.com/peakdrill:0.1.0
FROM python:3.11-slim
WORKDIR /build
COPY pyproject.toml README.md ./
COPY peakdrill ./peakdrill
# [kubernetes]: the drill runner runs the experiments/kubernetes/ variants (chaostoolkit-kubernetes, -toxiproxy).
RUN pip install --no-cache-dir '.[kubernetes]' && rm -rf /build
WORKDIR /
# Locust master <-> workers.
EXPOSE 5557
ENV PYTHONUNBUFFERED=1
CMD ["locust", "--help"]
