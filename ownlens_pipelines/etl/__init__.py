"""The ETL pieces the seed names: KafkaExtractor (topic to warehouse) and KafkaLoader."""

from ownlens_pipelines.etl.extractor import ExtractResult, KafkaExtractor
from ownlens_pipelines.etl.loader import KafkaLoader, LoadResult

__all__ = ["ExtractResult", "KafkaExtractor", "KafkaLoader", "LoadResult"]
