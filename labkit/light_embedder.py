"""The embedded embedder without sentence-transformers: the same vectors, for a command that must start fast.

`labkit ask` is a new process each time; importing sentence-transformers (and the scikit-learn and SciPy it pulls in)
costs more than the rest of a later call's loads together (benchmarks/bench_ask.py prints the phases). all-MiniLM-L6-v2
is a BERT encoder, mean pooling over the tokens and L2 normalisation, 256 tokens at most (its sentence-transformers
files say so: modules.json, 1_Pooling/config.json, sentence_bert_config.json); `LightEmbedder` runs those three steps
with transformers alone and answers the calls labkit makes of an embedder (`encode`, the dimension, the tokenizer,
`max_seq_length`), so an index built or loaded with it is the same index (tests/test_light_embedder.py compares the
vectors). What it leaves out: any other embedder (`models.load_embedder` loads those with sentence-transformers) and
training.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.model_cache import DEFAULT_EMBEDDER, embedder_dir


class LightEmbedder:
    """all-MiniLM-L6-v2 as transformers runs it: BERT, mean pooling, normalised.

    Example: LightEmbedder().encode(["a"]).shape -> (1, 384)
    """

    name = DEFAULT_EMBEDDER  # what `embedding.embedder_name` records in an index and a cache key

    def __init__(self, folder: Path | None = None, device: str = "cpu"):
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder or embedder_dir())
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if modules != ["Transformer", "Pooling", "Normalize"] or not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{folder} is not a mean-pooled, normalised sentence embedder ({modules}); load it with "
                             "models.load_embedder.")
        self.max_seq_length = int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder)).to(device).eval()
        self.device = device
        self.dim = int(pooling["word_embedding_dimension"])

    def get_sentence_embedding_dimension(self) -> int:
        """Length of the vectors. Example: LightEmbedder().get_sentence_embedding_dimension() -> 384."""
        return self.dim

    def encode(self, texts, batch_size: int = 32, convert_to_tensor: bool = False, show_progress_bar: bool = False,
               normalize_embeddings: bool = True):
        """Unit-length vectors of texts, as SentenceTransformer.encode gives them.

        Example: LightEmbedder().encode(["hello"]).shape -> (1, 384)
        """
        import torch

        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        parts = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                                       max_length=self.max_seq_length, return_tensors="pt").to(self.device)
                tokens = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                parts.append(torch.nn.functional.normalize(pooled, dim=-1) if normalize_embeddings else pooled)
        vectors = torch.cat(parts) if parts else torch.zeros((0, self.dim))
        vectors = vectors[0] if single else vectors
        return vectors if convert_to_tensor else vectors.float().cpu().numpy()
