#!/usr/bin/env bash
# Runs inside the LocalStack container once it is ready: prints which of the kit's services are available,
# so a missing paid-tier service is visible in `docker compose logs` before `pulumi up -s local` fails on it.
set -euo pipefail
health=$(curl -s http://localhost:4566/_localstack/health)
echo "mlops-kit: LocalStack services: ${health}"
for service in glue sagemaker; do
    if ! grep -q "\"${service}\": \"\(available\|running\)\"" <<<"${health}"; then
        echo "mlops-kit: ${service} is not available in this LocalStack edition (paid tier); the kit's" \
             "Glue jobs and SageMaker resources cannot be created here"
    fi
done
