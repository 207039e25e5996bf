"""Documents and chunks: load a folder of files, split them, give every piece a stable id.

What it holds:
- `load_folder(folder)`: reads Markdown, plain text, HTML (text only, markup dropped) and
  PDF (text only, size and page capped) recursively, and returns a `Corpus`: the
  `Document`s plus a report of what was `skipped` (binary, too big, duplicate, empty,
  unsupported) and what was only `warned` about (non-UTF-8 bytes decoded with replacement).
- `chunk_document` / `chunk_corpus`: split by headings, then paragraphs, then sentences,
  packed to a token budget with overlap. Each `Chunk` keeps its document id, position,
  heading path and a stable id such as "policy-returns#3".

What it leaves out: embedding and search (`labkit.retrieval`), OCR of scanned PDFs,
tables and images, and language detection. Nothing here needs a model: token budgets are
counted in words unless a tokenizer is passed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
MAX_FILE_BYTES = 5_000_000  # a text file bigger than this is almost surely a dump, not a document
MAX_PDF_BYTES = 20_000_000  # PDFs carry images, so they may be bigger than text files
MAX_PDF_PAGES = 50  # parsing cost grows with pages; 50 covers manuals and papers
MAX_FILES = 5_000  # a folder with more files than this is probably the wrong folder
SPHINX_MARKER = "searchindex.js"  # beside the pages of every built Sphinx site (Python's own docs, most packages' docs)
SPHINX_INDEX_PAGES = re.compile(r"genindex(-\w+)?\.html|py-modindex\.html|search\.html")

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass
class Document:
    """One source file as text."""

    id: str  # relative path without suffix, "/"-separated: "policy-returns", "guide/setup"
    title: str  # first Markdown heading, HTML <title>, PDF title, or the file name
    path: str  # the file's path as found on disk
    text: str  # the extracted text (Markdown kept as it is: headings drive chunking)
    kind: str = "md"  # "md", "txt", "html" or "pdf": how the text was extracted
    sha: str = ""  # sha256 of the text, to spot duplicates and changes


@dataclass
class Chunk:
    """A piece of one document, small enough to embed and to quote in a prompt."""

    id: str  # stable id: document id + "#" + position, e.g. "policy-returns#3"
    doc_id: str  # the Document's id
    position: int  # 0, 1, 2, ... within the document
    text: str  # the chunk's own text, without headings
    heading: str = ""  # heading path, e.g. "Returns Policy > Return shipping"
    title: str = ""  # the document's title
    path: str = ""  # the document's path

    def embed_text(self) -> str:
        """The text that is embedded and shown to the model: heading path, then the text.

        Example: Chunk("a#0", "a", 0, "Costs $89.", "Kettle > Price").embed_text() -> "Kettle > Price\\nCosts $89."
        The heading carries the subject ("Brimble Kettle") that a section's sentences leave implicit.
        """
        return f"{self.heading}\n{self.text}" if self.heading else self.text

    def to_dict(self) -> dict:
        """The chunk as a plain dict (JSON-ready). Example: chunk.to_dict()["id"] -> "policy-returns#3"."""
        return asdict(self)


@dataclass
class Corpus:
    """Documents loaded from a folder, and what happened to the files that were not loaded."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}: not loaded
    warnings: list[dict] = field(default_factory=list)  # {"path", "reason"}: loaded, with a caveat
    root: str = ""  # the folder that was loaded

    def __len__(self) -> int:
        return len(self.documents)

    def report(self) -> str:
        """A short human summary. Example: "46 documents loaded; 1 skipped: x.bin (binary file)"."""
        lines = [f"{len(self.documents)} documents loaded from {self.root}"]
        for kind, rows in (("skipped", self.skipped), ("warning", self.warnings)):
            lines += [f"  {kind}: {r['path']} ({r['reason']})" for r in rows]
        return "\n".join(lines)


# ---------------------------------------------------------------- reading files


def text_hash(text: str) -> str:
    """sha256 of a text, hex. Example: text_hash("a")[:8] -> "ca978112"."""
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: a NUL byte, or many control bytes, in the first 8 KB.

    Example: looks_binary(b"\\x00\\x01abc") -> True; looks_binary("héllo".encode()) -> False
    """
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = sum(b < 32 and b not in (9, 10, 12, 13) for b in head)
    return bool(head) and control / len(head) > 0.1


def decode_text(data: bytes) -> tuple[str, bool]:
    """UTF-8 text of some bytes, and whether bytes had to be replaced. Example: b"caf\\xe9" -> ("caf\\ufffd", True)."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def markdown_title(text: str) -> str | None:
    """The first Markdown heading of a text. Example: "# Returns Policy\\n..." -> "Returns Policy"."""
    for line in text.splitlines():
        match = _HEADING.match(line.strip())
        if match:
            return match.group(2).strip()
    return None


def html_to_text(html: str) -> tuple[str, str | None]:
    """Visible text of an HTML page as Markdown-ish text (headings kept as #), and its <title>.

    Example: html_to_text("<title>T</title><h1>A</h1><p>b</p>") -> ("# A\\n\\nb", "T")
    Scripts, styles and navigation are dropped; headings become "#" lines so chunking by
    headings works on HTML as on Markdown.
    """
    import warnings

    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "svg", "head", "title"]):
        tag.decompose()
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.replace_with(f"\n\n{'#' * level} {tag.get_text(' ', strip=True)}\n\n")
    blocks = []
    for tag in soup.find_all(["p", "li", "pre", "dd", "dt", "td", "blockquote"]):
        tag.insert_after("\n\n")
    text = soup.get_text()
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(block.split()) if not block.lstrip().startswith("#") else block.strip()
        if block:
            blocks.append(block)
    return "\n\n".join(blocks), title or None


def pdf_to_text(path: Path, max_pages: int = MAX_PDF_PAGES) -> tuple[str, str | None, int]:
    """Text of the first max_pages pages of a PDF, its metadata title, and its page count.

    Example: pdf_to_text(Path("manual.pdf")) -> ("page one text\\n\\npage two text", "Manual", 2)
    """
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = [page.extract_text() or "" for page in reader.pages[:max_pages]]
    title = None
    try:
        title = (reader.metadata or {}).get("/Title") or None
    except Exception:  # a broken metadata block should not lose the text
        title = None
    return "\n\n".join(p.strip() for p in pages if p.strip()), (str(title).strip() or None) if title else None, len(reader.pages)


def read_document(path: Path, root: Path, max_bytes: int = MAX_FILE_BYTES, max_pdf_pages: int = MAX_PDF_PAGES) -> tuple[Document | None, str | None, str | None]:
    """Read one file: (document, skip reason, warning). Exactly one of document/skip is set.

    Example: read_document(Path("data/kb/policy-returns.md"), Path("data/kb"))[0].title -> "Returns Policy"
    """
    suffix = path.suffix.lower()
    rel = path.relative_to(root)
    doc_id = rel.with_suffix("").as_posix()
    if suffix not in SUPPORTED_SUFFIXES:
        return None, f"unsupported file type {suffix or '(none)'}; labkit reads {', '.join(sorted(SUPPORTED_SUFFIXES))}", None
    try:
        size = path.stat().st_size
        cap = MAX_PDF_BYTES if suffix in PDF_SUFFIXES else max_bytes
        if size > cap:
            return None, f"too big: {size / 1e6:.1f} MB over the {cap / 1e6:.1f} MB cap; split it or raise max_bytes", None
        if suffix in PDF_SUFFIXES:
            text, title, pages = pdf_to_text(path, max_pdf_pages)
            warning = f"only the first {max_pdf_pages} of {pages} pages were read" if pages > max_pdf_pages else None
            if not text.strip():
                return None, "the PDF has no extractable text (scanned images need OCR, which labkit does not do)", None
            return Document(doc_id, title or path.stem, str(path), text, "pdf", text_hash(text)), None, warning
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}", None
    except Exception as exc:  # pypdf raises many error types on broken files; one bad file must not stop the rest
        return None, f"unreadable PDF: {type(exc).__name__}: {str(exc)[:120]}", None
    if looks_binary(data):
        return None, "binary file (not text)", None
    text, replaced = decode_text(data)
    warning = "not valid UTF-8: undecodable bytes were replaced with \ufffd" if replaced else None
    if suffix in HTML_SUFFIXES:
        text, title = html_to_text(text)
        kind = "html"
    else:
        title = markdown_title(text) if suffix != ".txt" else None
        kind = "txt" if suffix == ".txt" else "md"
    if not text.strip():
        return None, "empty (no text)", None
    return Document(doc_id, title or path.stem, str(path), text, kind, text_hash(text)), None, warning


def walk_folder(folder) -> tuple[list[Path], list[dict]]:
    """Files under a folder (sorted; hidden files and folders left out), and what could not be walked.

    Example: walk_folder("data/kb") -> ([PosixPath("data/kb/changelog-app-2-3.md"), ...], [])
    Links to folders are not followed (a link back up would loop forever) and unreadable
    folders are passed over; each is reported as {"path", "reason"} so nothing is skipped silently.
    In a built Sphinx site (a folder with searchindex.js) the `_sources` copies of the pages and
    the generated index pages are left out, and reported: the text would be indexed twice.
    """
    root = Path(folder).expanduser()
    files, problems = [], []

    def unreadable(exc: OSError) -> None:
        problems.append({"path": Path(exc.filename).relative_to(root).as_posix() if exc.filename else str(root),
                         "reason": f"unreadable folder: {exc.strerror or exc}"})

    for here, dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        base = Path(here)
        sphinx = SPHINX_MARKER in names  # a built Sphinx site: its _sources and index pages repeat its HTML pages
        keep = []
        for d in sorted(dirs):
            if d.startswith(".") or d == "__pycache__":
                continue
            if sphinx and d == "_sources":
                problems.append({"path": (base / d).relative_to(root).as_posix(),
                                 "reason": "Sphinx's copies of the pages' sources: the same text as the HTML pages, indexed once (as HTML)"})
                continue
            if (base / d).is_symlink():
                problems.append({"path": (base / d).relative_to(root).as_posix(), "reason": "link to a folder: not followed (it could loop)"})
                continue
            keep.append(d)
        dirs[:] = keep
        for name in names:
            path = base / name
            if name.startswith("."):
                continue
            if sphinx and SPHINX_INDEX_PAGES.fullmatch(name):
                problems.append({"path": path.relative_to(root).as_posix(), "reason": "Sphinx's generated index page (links, no prose)"})
                continue
            if path.is_file():
                files.append(path)
            elif path.is_symlink():
                problems.append({"path": path.relative_to(root).as_posix(), "reason": "broken link: its target does not exist"})
    return sorted(files), problems


def list_files(folder) -> list[Path]:
    """Files under a folder, sorted, hidden files and folders left out. Example: list_files("data/kb")[0].name -> "changelog-app-2-3.md"."""
    return walk_folder(folder)[0]


def skip_summary(rows: list[dict], examples: int = 3) -> list[str]:
    """Skipped files grouped by reason, with counts: one line a reason, a few paths, "and N more".

    Example: skip_summary([{"path": "a.docx", "reason": "unsupported file type .docx; ..."}] * 12)
    -> ["skipped 12 files: unsupported file type .docx; ... (a.docx, a.docx, a.docx and 9 more)"]
    """
    groups: dict[str, list[str]] = {}
    for row in rows:
        key = re.sub(r"\d+(\.\d+)?", "N", row["reason"]) if row["reason"].startswith("too big") else row["reason"]
        groups.setdefault(key, []).append(row["path"])
    lines = []
    for reason, paths in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        more = f" and {len(paths) - examples} more" if len(paths) > examples else ""
        noun = "file" if len(paths) == 1 else "files"
        lines.append(f"skipped {len(paths)} {noun}: {reason} ({', '.join(paths[:examples])}{more})")
    return lines


def load_folder(folder, max_bytes: int = MAX_FILE_BYTES, max_pdf_pages: int = MAX_PDF_PAGES, report_unsupported: bool = True) -> Corpus:
    """Load every supported document under a folder (recursively) into a Corpus.

    Example: load_folder("data/kb") -> Corpus(46 documents, skipped=[], warnings=[])
    Raises FileNotFoundError for a missing folder and ValueError, saying what to do, when
    no document could be loaded. Duplicates (same text) keep the first path in sorted order.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"The folder {root} does not exist. Give the path of a folder of .md, .txt, .html or .pdf files.")
    if root.is_file():
        raise ValueError(f"{root} is a file, not a folder. Put it in a folder and pass the folder (labkit reads every document in it).")
    files, problems = walk_folder(root)
    if len(files) > MAX_FILES:
        raise ValueError(f"{root} holds {len(files)} files, more than labkit's cap of {MAX_FILES}. Point it at a smaller folder of documents.")
    corpus = Corpus(root=str(root))
    corpus.skipped += problems
    seen: dict[str, str] = {}
    for path in files:
        doc, reason, warning = read_document(path, root, max_bytes, max_pdf_pages)
        rel = path.relative_to(root).as_posix()
        if doc is None:
            if report_unsupported or not reason.startswith("unsupported"):
                corpus.skipped.append({"path": rel, "reason": reason})
            continue
        if doc.sha in seen:
            corpus.skipped.append({"path": rel, "reason": f"duplicate of {seen[doc.sha]} (same text)"})
            continue
        seen[doc.sha] = rel
        if warning:
            corpus.warnings.append({"path": rel, "reason": warning})
        corpus.documents.append(doc)
    if not corpus.documents:
        why = f" ({len(corpus.skipped)} files skipped: " + "; ".join(f"{r['path']}: {r['reason']}" for r in corpus.skipped[:3]) + ")" if corpus.skipped else ""
        raise ValueError(
            f"No documents found in {root}{why}. Put .md, .txt, .html or .pdf files in it (subfolders are searched too) and try again."
        )
    return corpus


# ---------------------------------------------------------------- chunking


def word_count(text: str) -> int:
    """Number of whitespace-separated words: labkit's default token proxy. Example: word_count("a b  c") -> 3."""
    return len(text.split())


def split_sections(text: str, title: str = "") -> list[tuple[str, str]]:
    """Split Markdown-ish text at headings into (heading path, body) pairs.

    Example: split_sections("# A\\nx\\n## B\\ny") -> [("A", "x"), ("A > B", "y")]
    Text before the first heading gets the document title as its heading path.
    """
    sections: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    current = title

    def flush():
        joined = "\n".join(body).strip()
        if joined:
            sections.append((current, joined))
        body.clear()

    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line.strip())
        if match:
            flush()
            level, name = len(match.group(1)), match.group(2).strip()
            stack = [(lv, n) for lv, n in stack if lv < level] + [(level, name)]
            path = [n for _, n in stack]
            # a document without an H1 still names its subject: prefix the title
            if title and path[0] != title and stack[0][0] > 1:
                path = [title, *path]
            current = " > ".join(path)
        else:
            body.append(line)
    flush()
    return sections


def _units(body: str, chunk_size: int, count: Callable[[str], int]) -> list[str]:
    """Paragraphs; a paragraph over budget becomes sentences; a sentence over budget becomes word windows."""
    units = []
    for para in re.split(r"\n\s*\n", body):
        para = para.strip()
        if not para:
            continue
        if count(para) <= chunk_size:
            units.append(para)
            continue
        for sentence in _SENTENCE_END.split(" ".join(para.split())):
            if count(sentence) <= chunk_size:
                units.append(sentence)
                continue
            words = sentence.split()
            step = max(1, chunk_size)
            # word windows are a last resort (a sentence longer than a chunk): no sentence to keep whole
            units += [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
    return units


def pack_units(units: list[str], chunk_size: int, overlap: int, count: Callable[[str], int]) -> list[str]:
    """Pack text units greedily into chunks of at most chunk_size tokens; each new chunk repeats
    the trailing units of the previous one that fit in `overlap` tokens.

    Example: pack_units(["a b", "c d", "e f"], chunk_size=4, overlap=2, count=word_count) -> ["a b\\n\\nc d", "c d\\n\\ne f"]
    """
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for unit in units:
        n = count(unit)
        if current and size + n > chunk_size:
            chunks.append(current)
            carry: list[str] = []
            carried = 0
            for prev in reversed(current):
                c = count(prev)
                if carried + c > overlap or carried + c + n > chunk_size:
                    break
                carry.insert(0, prev)
                carried += c
            current, size = carry, carried
        current.append(unit)
        size += n
    if current:
        chunks.append(current)
    return ["\n\n".join(c) for c in chunks]


def chunk_document(doc: Document, chunk_size: int = 128, overlap: int = 24, count: Callable[[str], int] | None = None) -> list[Chunk]:
    """Split one document into chunks: by headings, then paragraphs, then to the token budget.

    Example: chunk_document(doc)[0].id -> "policy-returns#0"; .heading -> "Returns Policy"
    chunk_size and overlap are in tokens of `count` (words by default). Sections never
    share a chunk, so each chunk has one heading path.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 token (got {chunk_size}).")
    if not 0 <= overlap < chunk_size:
        raise ValueError(f"overlap must be between 0 and chunk_size - 1 (got overlap={overlap}, chunk_size={chunk_size}).")
    count = count or word_count
    sections = split_sections(doc.text, doc.title) if doc.kind in ("md", "html") else [(doc.title, doc.text)]
    chunks = []
    for heading, body in sections:
        for text in pack_units(_units(body, chunk_size, count), chunk_size, overlap, count):
            position = len(chunks)
            chunks.append(Chunk(f"{doc.id}#{position}", doc.id, position, text, heading, doc.title, doc.path))
    return chunks


def chunk_corpus(corpus, chunk_size: int = 128, overlap: int = 24, count: Callable[[str], int] | None = None) -> list[Chunk]:
    """Chunks of every document of a Corpus (or a list of Documents), in order.

    Example: len(chunk_corpus(load_folder("data/kb"))) -> about 300
    """
    documents = corpus.documents if isinstance(corpus, Corpus) else corpus
    return [chunk for doc in documents for chunk in chunk_document(doc, chunk_size, overlap, count)]
