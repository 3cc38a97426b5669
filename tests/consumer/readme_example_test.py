#!/usr/bin/env python3
"""readme_example_test.py README EXAMPLE

Passes when the first ```cmake block within five lines after a line naming
tests/consumer/readme/CMakeLists.txt in README is EXAMPLE's text exactly: the README's CTest example is the file
the consumer suite builds and runs (tests/consumer/run.sh, label readme).
"""
import sys


def main():
    readme_path, example_path = sys.argv[1], sys.argv[2]
    readme = open(readme_path).read().splitlines()
    example = open(example_path).read()
    name = "tests/consumer/readme/CMakeLists.txt"
    for i, line in enumerate(readme):
        opening = [j for j in range(i + 1, min(i + 6, len(readme)))
                   if readme[j] == "```cmake"]
        if name in line and opening:
            end = readme.index("```", opening[0] + 1)
            block = "\n".join(readme[opening[0] + 1:end]) + "\n"
            if block != example:
                sys.exit(f"the README's block after the line naming {name} "
                         f"differs from {example_path}; make them the same")
            print(f"README example = {name} ({block.count(chr(10))} lines)")
            return
    sys.exit(f"no ```cmake block within five lines after a line naming {name} in {readme_path}")


if __name__ == "__main__":
    main()
