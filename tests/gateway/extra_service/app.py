"""The service list of a `gateway serve` subprocess with the test-only services:

    GATEWAY_SERVICES=tests.gateway.extra_service.app:SERVICES

with PYTHONPATH at the repository root, and GATEWAY_MIGRATIONS_DIR holding the real services'
folders, `reviews/` (from `MIGRATIONS_DIR`) and an empty `slow/`.
"""

import services
from gateway import Service
from tests.gateway.extra_service import service as reviews_service
from tests.gateway.extra_service.slow import service as slow_service

SERVICES: list[Service] = [*services.SERVICES, reviews_service, slow_service]

__all__ = ["SERVICES"]
