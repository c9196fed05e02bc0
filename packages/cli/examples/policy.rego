package agent_policy

default CreateContainerRequest := true
default ExecProcessRequest := false
default ReadStreamRequest := false
