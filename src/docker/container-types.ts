/** The parts of the engine's container create body pier uses (field names are the engine's). */
export interface ContainerCreateConfig {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  /** pier never uses a TTY: output must stay demultiplexable. */
  Tty?: false;
  /** With StdinOnce and AttachStdin, a script can be fed on stdin and its end closes the shell's stdin. */
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  NetworkDisabled?: boolean;
  StopSignal?: string;
  StopTimeout?: number;
  HostConfig?: ContainerHostConfig;
  NetworkingConfig?: { EndpointsConfig: Record<string, EndpointSettings> };
}

export interface ContainerHostConfig {
  /** `host-path-or-volume:container-path[:ro]` */
  Binds?: string[];
  Mounts?: ContainerMount[];
  NetworkMode?: string;
  Privileged?: boolean;
  CapAdd?: string[];
  CapDrop?: string[];
  /** Bytes. */
  Memory?: number;
  MemorySwap?: number;
  /** CPUs × 1e9. */
  NanoCpus?: number;
  /** Bytes. */
  ShmSize?: number;
  /** `host:ip` */
  ExtraHosts?: string[];
  Dns?: string[];
  DnsSearch?: string[];
  Init?: boolean;
  AutoRemove?: boolean;
  SecurityOpt?: string[];
  /** `{"5000/tcp": [{HostIp: "127.0.0.1", HostPort: ""}]}`: an empty HostPort lets the engine pick. */
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }>>;
  Tmpfs?: Record<string, string>;
  /** Containers whose volumes (and binds) this one mounts too, at the same paths. */
  VolumesFrom?: string[];
}

export interface ContainerMount {
  Type: "bind" | "volume" | "tmpfs";
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface EndpointSettings {
  Aliases?: string[];
}

export interface ContainerState {
  Status: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
  Running: boolean;
  ExitCode: number;
  OOMKilled: boolean;
  Pid: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: "starting" | "healthy" | "unhealthy" | "none" };
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  State: ContainerState;
  Config: {
    Image: string;
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    Env: string[] | null;
    Labels: Record<string, string> | null;
    WorkingDir: string;
    User: string;
    ExposedPorts?: Record<string, unknown> | null;
    Healthcheck?: { Test?: string[] } | null;
  };
  HostConfig: ContainerHostConfig;
  NetworkSettings: {
    Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null;
    Networks: Record<string, { IPAddress: string; Aliases: string[] | null; NetworkID: string }>;
  };
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
  Labels: Record<string, string>;
  Created: number;
}

export interface ContainerExit {
  StatusCode: number;
  Error?: { Message: string } | null;
}
