"""Writes a C driver for cantools' generated code: it loads a candump log into memory, then times the
generated `<db>_<message>_unpack` functions over every frame (dispatch on the id, as a decoder must)."""
import re
import sys

header, prefix, output = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(header).read()
messages = re.findall(rf"#define {prefix.upper()}_(\w+)_FRAME_ID \((0x[0-9a-f]+)u\)", text)
extended = dict(re.findall(rf"#define {prefix.upper()}_(\w+)_IS_EXTENDED \((\d)\)", text))
cases = []
members = []
for name, frame_id in messages:
    lower = name.lower()
    if f"{prefix}_{lower}_unpack(" not in text:
        continue
    members.append(f"    struct {prefix}_{lower}_t {lower};")
    cases.append(f"    case {frame_id}u: return {prefix}_{lower}_unpack(&out->{lower}, frame->data, frame->length);")

open(output, "w").write(f"""#include "{prefix}.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {{ uint32_t id; uint8_t length; uint8_t data[64]; }} frame_t;
union decoded {{
{chr(10).join(members)}
}};

static int decode(const frame_t *frame, union decoded *out) {{
    switch (frame->id) {{
{chr(10).join(cases)}
    default: return -1;
    }}
}}

static double now(void) {{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}}

int main(int argc, char **argv) {{
    FILE *log = fopen(argv[1], "r");
    if (!log) {{ perror(argv[1]); return 1; }}
    size_t capacity = 1 << 20, count = 0;
    frame_t *frames = malloc(capacity * sizeof(frame_t));
    char line[512];
    while (fgets(line, sizeof line, log)) {{
        char *hash = strchr(line, '#');
        char *space = strchr(strchr(line, ')') + 2, ' ');
        if (!hash || !space) continue;
        if (count == capacity) frames = realloc(frames, (capacity *= 2) * sizeof(frame_t));
        frame_t *frame = &frames[count++];
        frame->id = (uint32_t)strtoul(space + 1, NULL, 16);
        frame->length = 0;
        for (char *p = hash + 1; p[0] && p[1] && p[0] != '\\n'; p += 2) {{
            unsigned byte;
            sscanf(p, "%2x", &byte);
            frame->data[frame->length++] = (uint8_t)byte;
        }}
    }}
    union decoded out;
    long failures = 0;
    int passes = argc > 2 ? atoi(argv[2]) : 5;
    double best = 1e9;
    for (int pass = 0; pass < passes; pass++) {{
        double start = now();
        for (size_t i = 0; i < count; i++) failures += decode(&frames[i], &out) != 0;
        double elapsed = now() - start;
        if (elapsed < best) best = elapsed;
    }}
    printf("cantools generated C (gcc -O2): %zu frames in memory, best of %d passes: %.1f ns/frame (%ld unpack failures)\\n",
           count, passes, best / count * 1e9, failures);
    return 0;
}}
""")
print(f"{len(cases)} messages in the dispatcher", file=sys.stderr)
