"""Documents from a folder: walk it, read each file the kit can read, and say what was skipped and why.

What it holds:
- `load_folder(folder)`: reads Markdown, plain text, HTML (visible text only: markup, scripts
  and hidden elements dropped) and PDF (text only, size and page capped) recursively, and
  returns a `Corpus`: the `Document`s plus a report of what was `skipped` (binary, too big,
  duplicate, empty, unsupported, a file name that is not UTF-8, a link leaving the folder,
  a FIFO, device or socket) and what was only `warned` about (non-UTF-8 bytes decoded with
  replacement). Only regular files are ever opened, and links leave the folder only when
  asked (`follow_links=True`): the walk and its rules are `labkit.folder_walk`'s.
- `skip_summary`: those reports as a few lines a person reads; `max_bytes_from_mb`: the size cap a user sets.

What it leaves out: walking the folder (`labkit.folder_walk`), splitting documents into chunks
(`labkit.corpus`), embedding and search (`labkit.retrieval`), OCR of scanned PDFs, tables and
images, and language detection.

Example: load_folder("data/kb") -> Corpus(46 documents, skipped=[], warnings=[])
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from labkit.extract import (
    MAX_PDF_PAGES,
    decode_text,
    html_to_text,
    looks_binary,
    markdown_title,
    pdf_to_text,
    text_hash,
)
from labkit.folder_walk import check_folder, special_file, walk_folder
from labkit.limits import bounds, check, read

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
MAX_FILE_BYTES = 5_000_000  # a text file bigger than this is almost surely a dump, not a document
# the most `labkit ask --max-file-mb` accepts (labkit.limits says why)
MAX_FILE_MB_LIMIT = int(bounds("max_file_mb")[1])
MAX_PDF_BYTES = 20_000_000  # PDFs carry images, so they may be bigger than text files
MAX_FILES = 5_000  # a folder with more files than this is probably the wrong folder



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


def human_size(n: int) -> str:
    """A byte count as people read it, never rounded to nothing.
    Example: human_size(25_000) -> "25.0 KB"; human_size(999) -> "999 bytes"."""
    if n < 1000:
        return f"{n} bytes"
    return f"{n / 1e3:.1f} KB" if n < 1_000_000 else f"{n / 1e6:.1f} MB"


def size_cap(path: Path, max_bytes: int = MAX_FILE_BYTES) -> int:
    """The most bytes labkit reads of this file: max_bytes, and at least MAX_PDF_BYTES for a PDF (it carries images).

    Example: size_cap(Path("a.md"), 1000) -> 1000; size_cap(Path("a.pdf"), 1000) -> 20_000_000
    """
    return max(MAX_PDF_BYTES, max_bytes) if path.suffix.lower() in PDF_SUFFIXES else max_bytes


def too_big_reason(size: int, cap: int) -> str:
    """Why a file over the cap is skipped: its real size, the cap, and how to raise the cap.

    Example: too_big_reason(25_000, 1000) -> "too big: 25.0 KB, over the 1.0 KB cap; split it, or raise the cap:
    labkit ask --max-file-mb 1 (max_bytes=1000000 in load_folder / index_folder)"
    """
    shown, limit = human_size(size), human_size(cap)
    if shown == limit:  # 5.04 MB over a 5.0 MB cap: say the bytes rather than "5.0 MB over the 5.0 MB cap"
        shown, limit = f"{size:,} bytes", f"{cap:,} bytes"
    return f"too big: {shown}, over the {limit} cap; {raise_cap_advice(size)}"


def raise_cap_advice(size: int, files: int = 1) -> str:
    """How to read a file of `size` bytes that is over the cap.
    Example: raise_cap_advice(7_200_000) -> "split it, or raise the cap: labkit ask --max-file-mb 8 (max_bytes=8000000
        in load_folder / index_folder)"."""
    it = "them" if files > 1 else "it"
    mb = max(1, math.ceil(size / 1e6))
    if mb > MAX_FILE_MB_LIMIT:
        return f"split {it}: labkit reads files of up to {MAX_FILE_MB_LIMIT} MB"
    return (f"split {it}, or raise the cap: labkit ask --max-file-mb {mb} (max_bytes={mb * 1_000_000} in load_folder / "
            "index_folder)")


def max_bytes_from_mb(value) -> int:
    """The byte cap for `labkit ask --max-file-mb N`: a number of megabytes above 0, at most MAX_FILE_MB_LIMIT.

    Example: max_bytes_from_mb("20") -> 20_000_000; max_bytes_from_mb("0") raises ValueError saying what to pass
    """
    mb = read("max_file_mb", value, "--max-file-mb") if isinstance(value, str) else check("max_file_mb", value,
                                                                                          "--max-file-mb")
    return max(1, int(mb * 1_000_000))  # 1e-9 MB is still a cap of a byte, not of nothing


def read_regular(path: Path, limit: int) -> bytes:
    """At most limit + 1 bytes of a regular file; OSError for anything else, without blocking on it.

    Example: read_regular(Path("data/kb/policy-returns.md"), MAX_FILE_BYTES)[:16] -> b"# Returns Policy"
    The folder walk already leaves FIFOs and devices out; this guards against a file swapped for
    one since (O_NONBLOCK: opening a FIFO does not wait for a writer), and a file that grew.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return f.read(limit + 1)


def read_document(path: Path, root: Path, max_bytes: int = MAX_FILE_BYTES,
                  max_pdf_pages: int = MAX_PDF_PAGES) -> tuple[Document | None, str | None, str | None]:
    """Read one file: (document, skip reason, warning). Exactly one of document/skip is set.

    Example: read_document(Path("data/kb/policy-returns.md"), Path("data/kb"))[0].title -> "Returns Policy"
    Only a regular file is opened: a FIFO or a device could block or never end.
    """
    suffix = path.suffix.lower()
    rel = path.relative_to(root)
    doc_id = rel.with_suffix("").as_posix()
    if suffix not in SUPPORTED_SUFFIXES:
        return (
            None,
            f"unsupported file type {suffix or '(none)'}; labkit reads {', '.join(sorted(SUPPORTED_SUFFIXES))}",
            None,
        )
    try:
        info = path.stat()
        if (kind := special_file(info.st_mode)) is not None:
            return None, f"{kind}, not a document: never opened (reading it could block or never end)", None
        size, cap = info.st_size, size_cap(path, max_bytes)
        if size > cap:
            return None, too_big_reason(size, cap), None
        if suffix in PDF_SUFFIXES:
            text, title, pages = pdf_to_text(path, max_pdf_pages)
            warning = f"only the first {max_pdf_pages} of {pages} pages were read" if pages > max_pdf_pages else None
            if not text.strip():
                return None, "the PDF has no extractable text (scanned images need OCR, which labkit does not do)", None
            return Document(doc_id, title or path.stem, str(path), text, "pdf", text_hash(text)), None, warning
        data = read_regular(path, cap)
        if len(data) > cap:  # it grew since the stat
            return None, too_big_reason(len(data), cap), None
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


def skip_summary(rows: list[dict], examples: int = 3) -> list[str]:
    """Skipped files grouped by reason, with counts: one line a reason, a few paths, "and N more".

    Example: skip_summary([{"path": "a.docx", "reason": "unsupported file type .docx; ..."}] * 12)
    -> ["skipped 12 files: unsupported file type .docx; ... (a.docx, a.docx, a.docx and 9 more)"]
    Files too big for one cap share a line that keeps each file's size and the cap, and names
    the --max-file-mb that would take the biggest of them.
    """
    groups: dict[str, list[str]] = {}
    big: dict[int, list[dict]] = {}
    for row in rows:
        if "cap" in row and "size" in row:
            big.setdefault(row["cap"], []).append(row)
        else:
            groups.setdefault(row["reason"], []).append(row["path"])
    for cap, group in big.items():
        reason = (
            f"too big, over the {human_size(cap)} cap; {raise_cap_advice(max(r['size'] for r in group), len(group))}"
        )
        groups[reason] = [f"{r['path']} ({human_size(r['size'])})" for r in group]
    lines = []
    for reason, paths in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        more = f" and {len(paths) - examples} more" if len(paths) > examples else ""
        noun = "file" if len(paths) == 1 else "files"
        lines.append(f"skipped {len(paths)} {noun}: {reason} ({', '.join(paths[:examples])}{more})")
    return lines


def load_folder(folder, max_bytes: int = MAX_FILE_BYTES, max_pdf_pages: int = MAX_PDF_PAGES,
                report_unsupported: bool = True, follow_links: bool = False) -> Corpus:
    """Load every supported document under a folder (recursively) into a Corpus.

    Example: load_folder("data/kb") -> Corpus(46 documents, skipped=[], warnings=[])
    Raises FileNotFoundError for a missing folder and ValueError, saying what to do, when
    no document could be loaded. Duplicates (same text) keep the first path in sorted order.
    max_bytes caps a file's size (PDFs: at least MAX_PDF_BYTES); links to files outside the
    folder are read only with follow_links (see walk_folder). A too-big file's skip row also
    holds its "size" and the "cap", in bytes.
    """
    root = check_folder(folder)
    files, problems = walk_folder(root, follow_links)
    if len(files) > MAX_FILES:
        raise ValueError(f"{root} holds {len(files)} files, more than labkit's cap of {MAX_FILES}. Point it at a "
                         "smaller folder of documents.")
    corpus = Corpus(root=str(root))
    corpus.skipped += problems
    seen: dict[str, str] = {}
    for path in files:
        doc, reason, warning = read_document(path, root, max_bytes, max_pdf_pages)
        rel = path.relative_to(root).as_posix()
        if doc is None:
            if report_unsupported or not reason.startswith("unsupported"):
                row = {"path": rel, "reason": reason}
                if reason.startswith("too big"):
                    try:
                        row.update(size=path.stat().st_size, cap=size_cap(path, max_bytes))
                    except OSError:
                        pass
                corpus.skipped.append(row)
            continue
        if doc.sha in seen:
            corpus.skipped.append({"path": rel, "reason": f"duplicate of {seen[doc.sha]} (same text)"})
            continue
        seen[doc.sha] = rel
        if warning:
            corpus.warnings.append({"path": rel, "reason": warning})
        corpus.documents.append(doc)
    if not corpus.documents:
        why = (
            f" ({len(corpus.skipped)} files skipped: "
            + "; ".join(f"{r['path']}: {r['reason']}" for r in corpus.skipped[:3])
            + ")"
            if corpus.skipped
            else ""
        )
        raise ValueError(
            f"No documents found in {root}{why}. Put .md, .txt, .html or .pdf files in it (subfolders are searched "
            "too) and try again."
        )
    return corpus
