package server

import "context"

// chainUnary folds interceptors into one; the first is the outermost.
func chainUnary(is []UnaryInterceptor) UnaryInterceptor {
	switch len(is) {
	case 0:
		return nil
	case 1:
		return is[0]
	}
	return func(ctx context.Context, req any, info *UnaryInfo, h UnaryHandler) (any, error) {
		return is[0](ctx, req, info, unaryNext(is, 0, info, h))
	}
}

func unaryNext(is []UnaryInterceptor, cur int, info *UnaryInfo, final UnaryHandler) UnaryHandler {
	if cur == len(is)-1 {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return is[cur+1](ctx, req, info, unaryNext(is, cur+1, info, final))
	}
}

// chainStream folds interceptors into one; the first is the outermost.
func chainStream(is []StreamInterceptor) StreamInterceptor {
	switch len(is) {
	case 0:
		return nil
	case 1:
		return is[0]
	}
	return func(srv any, ss Stream, info *StreamInfo, h StreamHandler) error {
		return is[0](srv, ss, info, streamNext(is, 0, info, h))
	}
}

func streamNext(is []StreamInterceptor, cur int, info *StreamInfo, final StreamHandler) StreamHandler {
	if cur == len(is)-1 {
		return final
	}
	return func(srv any, ss Stream) error {
		return is[cur+1](srv, ss, info, streamNext(is, cur+1, info, final))
	}
}
