"""Replaces the results of one section of BENCHMARKS.md: everything between the section's
"<!-- results -->" marker and the next "## " heading becomes the given result file's text.

    python3 bench/write-section.py "Section title" BENCHMARKS.md result.md
"""
import sys

title, path, result_file = sys.argv[1], sys.argv[2], sys.argv[3]
result = open(result_file).read().strip()
text = open(path).read()
section = "## " + title + "\n"
start = text.index(section)
end = text.find("\n## ", start + len(section))
end = len(text) if end < 0 else end + 1
marker = text.index("<!-- results -->", start) + len("<!-- results -->")
text = text[:marker] + "\n" + result + "\n\n" + text[end:]
open(path, "w").write(text)
print("BENCHMARKS.md updated")
