import { describe, expect, it } from "vitest";
import { jobNamed, planErrors, planFrom } from "./helpers.ts";

describe("extends", () => {
  it("deep-merges hashes, replaces arrays, and applies several parents left to right", async () => {
    const plan = await planFrom(`
.a:
  variables: {A: a, SHARED: from-a}
  tags: [one, two]
  script: [a]
.b:
  variables: {B: b, SHARED: from-b}
  tags: [three]
job:
  extends: [.a, .b]
  variables: {C: c}
`);
    const built = jobNamed(plan, "job");
    expect(built.variables.map((v) => `${v.key}=${v.value}`)).toEqual([
      "A=a",
      "SHARED=from-b",
      "B=b",
      "C=c",
    ]);
    expect(built.tags).toEqual(["three"]);
    expect(built.script).toEqual(["a"]);
  });

  it("lets null remove an inherited key (GitLab's exclude-a-key example)", async () => {
    const plan = await planFrom(`
.base:
  script: test
  variables: {VAR1: base var 1}
test1:
  extends: .base
  variables: {VAR1: test1 var 1, VAR2: test2 var 2}
test2:
  extends: .base
  variables: {VAR2: test2 var 2}
test3:
  extends: .base
  variables: {}
test4:
  extends: .base
  variables: null
`);
    expect(jobNamed(plan, "test3").variables.map((v) => v.key)).toEqual(["VAR1"]);
    expect(jobNamed(plan, "test4").variables).toEqual([]);
    expect(jobNamed(plan, "test1").variables.map((v) => v.value)).toEqual([
      "test1 var 1",
      "test2 var 2",
    ]);
  });

  it("resolves multi-level extends (GitLab's .tests/.rspec example)", async () => {
    const plan = await planFrom(`
.tests:
  rules:
    - if: $CI_PIPELINE_SOURCE == "push"
.rspec:
  extends: .tests
  script: rake rspec
rspec 1:
  variables: {RSPEC_SUITE: '1'}
  extends: .rspec
`);
    expect(jobNamed(plan, "rspec 1").script).toEqual(["rake rspec"]);
  });

  it("reports unknown parents, cycles and too deep nesting", async () => {
    const errors = await planErrors(`
a:
  extends: .missing
  script: x
b:
  extends: c
  script: x
c:
  extends: b
  script: x
${Array.from({ length: 12 }, (_, i) => `.l${i}:\n  extends: .l${i + 1}\n`).join("")}.l12:
  script: x
deep:
  extends: .l0
`);
    expect(errors.join("\n")).toContain("a: unknown keys in `extends` (.missing)");
    expect(errors.join("\n")).toContain("circular dependency detected in `extends`");
    expect(errors.join("\n")).toContain("nesting too deep in `extends`");
  });
});

describe("!reference", () => {
  it("reuses sections, nested references, and flattens scripts (GitLab's example)", async () => {
    const plan = await planFrom(`
.setup:
  script:
    - echo creating environment
.teardown:
  after_script:
    - echo deleting environment
.vars:
  variables: {URL: "http://x", USER: me}
.nested:
  script:
    - !reference [.setup, script]
    - echo nested
test:
  variables: !reference [.vars, variables]
  script:
    - !reference [.nested, script]
    - echo running my own command
  after_script:
    - !reference [.teardown, after_script]
`);
    const test = jobNamed(plan, "test");
    expect(test.script).toEqual([
      "echo creating environment",
      "echo nested",
      "echo running my own command",
    ]);
    expect(test.afterScript).toEqual(["echo deleting environment"]);
    expect(test.variables.map((v) => v.key)).toEqual(["URL", "USER"]);
  });

  it("sees keys inherited through extends", async () => {
    const plan = await planFrom(`
.base:
  script: [from-base]
.child:
  extends: .base
job:
  script: !reference [.child, script]
`);
    expect(jobNamed(plan, "job").script).toEqual(["from-base"]);
  });

  it("resolves references to entries that hold references, whatever their order", async () => {
    const plan = await planFrom(`
.setup:
  script: [setup]
build:
  extends: .vars
  before_script: !reference [.setup, script]
  script: [build]
test:
  script:
    - !reference [build, before_script]
    - !reference [build, script]
.vars:
  variables: {A: a}
late:
  extends: build
  after_script: !reference [test, script]
`);
    expect(jobNamed(plan, "build").beforeScript).toEqual(["setup"]);
    expect(jobNamed(plan, "test").script).toEqual(["setup", "build"]);
    expect(jobNamed(plan, "late").beforeScript).toEqual(["setup"]);
    expect(jobNamed(plan, "late").afterScript).toEqual(["setup", "build"]);
    expect(jobNamed(plan, "late").variables.find((v) => v.key === "A")?.value).toBe("a");
  });

  it("reports missing targets, cycles, invalid tags and too deep chains", async () => {
    const chain = Array.from(
      { length: 14 },
      (_, i) => `.r${i}:\n  s: !reference [.r${i + 1}, s]\n`,
    ).join("");
    const errors = (
      await planErrors(`
a:
  script: !reference [.nope, script]
b:
  script: !reference [.x, s]
.x:
  s: !reference [.y, s]
.y:
  s: !reference [.x, s]
c:
  script: !reference [1]
${chain}.r14:
  s: [deep]
d:
  script: !reference [.r0, s]
`)
    ).join("\n");
    expect(errors).toContain('!reference [".nope", "script"] could not be found');
    expect(errors).toContain("is part of a circular chain");
    expect(errors).toContain("!reference [1] is not valid");
    expect(errors).toContain("nested too deeply");
  });

  it("finds a chain too deep whatever the order of its entries", async () => {
    const links = Array.from(
      { length: 11 },
      (_, i) => `.r${i}:\n  s: !reference [.r${i + 1}, s]\n`,
    );
    const tail = ".r11:\n  s: [x]\njob:\n  script: !reference [.r0, s]\n";
    for (const order of [links, [...links.slice(10), ...links.slice(0, 10)]]) {
      const errors = (await planErrors(order.join("") + tail)).join("\n");
      expect(errors).toContain('!reference [".r11", "s"] is nested too deeply');
    }
  });
});

describe("default and inherit", () => {
  it("copies default keys the job does not set, per key, never merged", async () => {
    const plan = await planFrom(`
default:
  image: ruby:3.0
  retry: 2
  before_script: [setup]
rspec:
  script: bundle exec rspec
rspec 2.7:
  image: ruby:2.7
  before_script: []
  script: bundle exec rspec
`);
    expect(jobNamed(plan, "rspec").image?.name).toBe("ruby:3.0");
    expect(jobNamed(plan, "rspec").retry.max).toBe(2);
    expect(jobNamed(plan, "rspec").beforeScript).toEqual(["setup"]);
    expect(jobNamed(plan, "rspec 2.7").image?.name).toBe("ruby:2.7");
    expect(jobNamed(plan, "rspec 2.7").beforeScript).toEqual([]);
  });

  it("honours inherit:default and inherit:variables (true, false and lists)", async () => {
    const plan = await planFrom(`
default:
  retry: 2
  image: ruby:3.0
  interruptible: true
variables:
  VARIABLE1: "1"
  VARIABLE2: "2"
job1:
  script: x
  inherit: {default: false, variables: false}
job2:
  script: x
  inherit:
    default: [retry, image]
    variables: [VARIABLE2]
`);
    expect(jobNamed(plan, "job1").image).toBeUndefined();
    expect(jobNamed(plan, "job1").variables).toEqual([]);
    expect(jobNamed(plan, "job2").retry.max).toBe(2);
    expect(jobNamed(plan, "job2").interruptible).toBe(false);
    expect(jobNamed(plan, "job2").variables.map((v) => v.key)).toEqual(["VARIABLE2"]);
  });

  it("reports a bad default for each job that inherits it, at the job's mapping", async () => {
    const errors = await planErrors(`
default:
  timeout: soon
first:
  script: x
second:
  timeout: 1h
  script: x
third:
  inherit: {default: [image]}
  script: x
`);
    expect(errors).toEqual(["5:3: jobs:first timeout should be a duration"]);
  });

  it("gives no defaults to trigger jobs", async () => {
    const plan = await planFrom(`
default:
  retry: 2
child:
  trigger: {include: child.yml}
job:
  script: x
`);
    expect(jobNamed(plan, "child").retry.max).toBe(0);
    expect(jobNamed(plan, "job").retry.max).toBe(2);
  });

  it("treats deprecated top-level keys as defaults and rejects them twice", async () => {
    const plan = await planFrom("image: alpine\njob:\n  script: x\n");
    expect(jobNamed(plan, "job").image?.name).toBe("alpine");
    expect(await planErrors("image: alpine\ndefault:\n  image: ruby\njob:\n  script: x\n")).toEqual(
      ["1:1: image is defined in top-level and `default:` entry"],
    );
  });
});
