import { describe, expect, it } from "vitest";
import { PierError } from "../../../src/errors.ts";
import { parseDotenv } from "../../../src/storage/dotenv.ts";

describe("parseDotenv (GitLab's dotenv report rules)", () => {
  it("reads KEY=VALUE lines, splitting at the first '=' and trimming both sides", () => {
    expect(parseDotenv("A=1\nB = two words \nC=x=y\nEMPTY=\n")).toEqual({
      A: "1",
      B: "two words",
      C: "x=y",
      EMPTY: "",
    });
  });

  it("keeps quotes as they are and does not expand variables", () => {
    expect(parseDotenv(`Q="quoted"\nS='single'\nV=$A\n`)).toEqual({
      Q: '"quoted"',
      S: "'single'",
      V: "$A",
    });
  });

  it("accepts CRLF line ends, a BOM and a missing final newline", () => {
    expect(parseDotenv("\uFEFFA=1\r\nB=2")).toEqual({ A: "1", B: "2" });
  });

  it("lets a later line override an earlier one", () => {
    expect(parseDotenv("A=1\nA=2\n")).toEqual({ A: "2" });
  });

  it("rejects empty lines, comments and lines without '='", () => {
    expect(() => parseDotenv("A=1\n\nB=2\n")).toThrow(PierError);
    expect(() => parseDotenv("# comment\nA=1\n")).toThrow(/Invalid Format/);
    expect(() => parseDotenv("JUST_A_KEY\n")).toThrow(/Invalid Format/);
  });

  it("rejects names that are not ASCII letters, digits and '_'", () => {
    expect(() => parseDotenv("MY-VAR=1\n")).toThrow(/invalid variable name/);
    expect(() => parseDotenv("ÜBER=1\n")).toThrow(/invalid variable name/);
    expect(() => parseDotenv("=1\n")).toThrow(/invalid variable name/);
    expect(() => parseDotenv(`${"K".repeat(256)}=1\n`)).toThrow(/invalid variable name/);
    expect(parseDotenv("1ST=ok\n")).toEqual({ "1ST": "ok" });
  });

  it("enforces the variable count and size limits", () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `V${String(i)}=x`).join("\n");
    expect(Object.keys(parseDotenv(lines(20)))).toHaveLength(20);
    expect(() => parseDotenv(lines(21))).toThrow(/more than 20 variables/);
    expect(() => parseDotenv(lines(3), { maxVariables: 2 })).toThrow(/more than 2 variables/);
    const random = Array.from({ length: 10_000 }, () => Math.random().toString(36).slice(2)).join(
      "",
    );
    expect(() => parseDotenv(`BIG=${random}\n`)).toThrow(/Too Big/);
  });
});
