"""Background workers started and stopped by the app's lifespan."""

from serving.workers.delivery import DeliveryWorker, to_message
from serving.workers.loop import PollingWorker
from serving.workers.timers import TimerWorker

__all__ = ["DeliveryWorker", "PollingWorker", "TimerWorker", "to_message"]
