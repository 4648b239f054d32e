# The load-generator image that `peakdrill plan --output-dir` manifests run (pass it as --image).
# It holds peakdrill and the Locust it pins; the load tests come from the ConfigMap, not the image,
# so changing a journey or a profile needs no rebuild.
#   docker build -t registry.example.com/peakdrill:0.1.0 . && docker push registry.example.com/peakdrill:0.1.0
FROM python:3.11-slim
WORKDIR /build
COPY pyproject.toml README.md ./
COPY peakdrill ./peakdrill
RUN pip install --no-cache-dir . && rm -rf /build
WORKDIR /
# Locust master <-> workers.
EXPOSE 5557
ENV PYTHONUNBUFFERED=1
CMD ["locust", "--help"]
