// The kit on a real directory of the host, through Deno's own API: proves
// every case encodes what Linux actually does (a case failing here is wrong).
import { conformanceSuite } from "../../src/testing/conformance.ts";
import { hostDirSubject } from "../../src/testing/host_subject.ts";

conformanceSuite("host directory", { subject: hostDirSubject() });
