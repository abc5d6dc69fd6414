"""From runs to findings: evaluation metrics, statistics, and the aggregation of every run into curves, summaries,
paired comparisons and conclusions."""
