Hello,

the report ${file.name} (${(file.size / 1024)?string["0.#"]} KB) is attached.

This mail was sent by Mailgate.
