"""Background workers started and stopped by the app's lifespan."""

from pvoice.serving.workers.delivery import DeliveryWorker, to_message
from pvoice.serving.workers.loop import PollingWorker
from pvoice.serving.workers.spikes import SpikeWorker
from pvoice.serving.workers.timers import TimerWorker

__all__ = ["DeliveryWorker", "PollingWorker", "SpikeWorker", "TimerWorker", "to_message"]
